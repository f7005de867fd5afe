// Package ast is a stand-in for moa's syntax tree.
package ast

// Expr is a node of the tree.
type Expr interface {
	Walk(Visitor) (Expr, error)
}

// Visitor walks a tree.
type Visitor interface {
	Enter(Expr) (Visitor, error)
	Exit(Expr) (Expr, error)
}

// Template is a template node.
type Template struct{}

// Walk visits the node.
func (t *Template) Walk(v Visitor) (Expr, error) {
	if _, err := v.Enter(t); err != nil {
		return nil, err
	}
	return v.Exit(t)
}
