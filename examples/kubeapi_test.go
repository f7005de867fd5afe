package examples

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// apiCallers are the packages that call the Kubernetes API. kubeapi
// itself is the client they call through, not a caller.
var apiCallers = []string{"driver", "attach"}

// TestEveryAPICallHasItsKubeAPIComment: every call of the cluster client
// in k8sdrv's code carries a `// kubeAPI: <resource>, <verb>` comment just
// above it, with the right verb, so that the RBAC Role generated from
// those comments (TestRBACRoleMatchesCode) can never miss a permission.
func TestEveryAPICallHasItsKubeAPIComment(t *testing.T) {
	fset := token.NewFileSet()
	imp := exportImporter(t, fset)
	calls := 0
	for _, dir := range apiCallers {
		files, info := typeCheck(t, fset, imp, dir)
		for _, f := range files {
			comments := kubeAPIComments(fset, f)
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				want, ok := apiCall(info, call)
				if !ok {
					return true
				}
				calls++
				pos := fset.Position(call.Pos())
				if !hasComment(comments, pos.Line, want) {
					t.Errorf("%s: API call without a `// kubeAPI: %s` comment in the lines above it", pos, want)
				}
				return true
			})
		}
	}
	assert.Assert(t, calls >= 8, "found only %d API calls: is the checker still looking at the right types?", calls)
}

// apiCall reports whether call goes to the Kubernetes API and what its
// comment must say ("pods, create"; "" after the comma: any verb).
func apiCall(info *types.Info, call *ast.CallExpr) (string, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	obj := info.Uses[sel.Sel]
	fn, ok := obj.(*types.Func)
	if !ok || fn.Pkg() == nil {
		return "", false
	}
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		if fn.Pkg().Path() == "github.com/k8sdrv/k8sdrv/kubeapi" && fn.Name() == "Exists" {
			return ", get", true
		}
		return "", false
	}
	named, ok := types.Unalias(deref(recv.Type())).(*types.Named)
	if !ok {
		return "", false
	}
	owner := named.Obj().Pkg().Path() + "." + named.Obj().Name()
	switch owner {
	case "github.com/k8sdrv/k8sdrv/kubeapi.Pods":
		return "pods, " + strings.ToLower(fn.Name()), true
	case "github.com/k8sdrv/k8sdrv/kubeapi.Events":
		return "events, " + strings.ToLower(fn.Name()), true
	case "github.com/k8sdrv/k8sdrv/kubeapi.Namespaces":
		return "namespaces, " + strings.ToLower(fn.Name()), true
	case "github.com/k8sdrv/k8sdrv/kubeapi.DisruptionBudgets":
		return "policy/poddisruptionbudgets, " + strings.ToLower(fn.Name()), true
	case "k8s.io/client-go/rest.Interface":
		switch fn.Name() {
		case "Get", "Post", "Put", "Patch", "Delete", "Verb":
			return "", true // the resource and verb are in the request that follows
		}
	}
	return "", false
}

func deref(t types.Type) types.Type {
	if p, ok := t.(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}

// kubeAPIComments maps line numbers to the `kubeAPI:` comments on them.
func kubeAPIComments(fset *token.FileSet, f *ast.File) map[int]string {
	out := map[int]string{}
	for _, group := range f.Comments {
		for _, c := range group.List {
			if m := kubeAPIComment.FindStringSubmatch(c.Text); m != nil {
				out[fset.Position(c.Pos()).Line] = m[1] + ", " + m[2]
			}
		}
	}
	return out
}

// hasComment looks for the wanted comment in the few lines above line
// (a call's comments sit right above it, one per permission).
func hasComment(comments map[int]string, line int, want string) bool {
	for l := line - 1; l >= line-4; l-- {
		got, ok := comments[l]
		if ok && (got == want || strings.HasPrefix(want, ", ") && strings.HasSuffix(got, want) || want == "") {
			return true
		}
	}
	return false
}

// typeCheck parses and type-checks the non-test files of one package.
func typeCheck(t *testing.T, fset *token.FileSet, imp types.Importer, dir string) ([]*ast.File, *types.Info) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
	assert.NilError(t, err)
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		assert.NilError(t, err)
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: imp}
	_, err = conf.Check("github.com/k8sdrv/k8sdrv/"+dir, fset, files, info)
	assert.NilError(t, err)
	return files, info
}

// exportImporter imports packages from the compiler's export data, which
// `go list -export` builds (or finds in the build cache).
func exportImporter(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	for _, dir := range apiCallers {
		args = append(args, "../"+dir)
	}
	out, err := exec.Command("go", args...).Output()
	assert.NilError(t, err)
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		exports[path] = file
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, os.ErrNotExist
		}
		return os.Open(file)
	})
}
