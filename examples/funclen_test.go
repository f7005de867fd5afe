package examples

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// maxFunctionLines is the longest a function of k8sdrv's own code may be,
// from its signature to its closing brace (tests are not counted).
const maxFunctionLines = 60

// TestFunctionsAreShort: no function of the module's code (hack/'s build
// tools included; the gitlab-runner wrapper module excepted, which is not
// ours to shape) is longer than maxFunctionLines.
func TestFunctionsAreShort(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.IsDir() && (path == "../hack/gitlab-runner" || strings.HasPrefix(e.Name(), ".")) && path != "..":
			return filepath.SkipDir
		case e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok {
				lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				assert.Check(t, lines <= maxFunctionLines, "%s: %s is %d lines long (at most %d)", fset.Position(fn.Pos()), fn.Name.Name, lines, maxFunctionLines)
			}
		}
		return nil
	})
	assert.NilError(t, err)
}
