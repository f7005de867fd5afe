// Command runnerkeys lists the keys of GitLab Runner's [runners.kubernetes]
// section, version by version, from the runner's own source: the toml tags
// of common.KubernetesConfig and of every struct it holds, read with
// go/parser from each given revision of a gitlab-runner git directory.
// It writes config/testdata/runner-keys.txt, the list that
// config's TestRunnerKeysAreKnown holds k8sdrv's configuration to.
//
//	go run ./hack/runnerkeys -git /path/to/gitlab-runner.git > config/testdata/runner-keys.txt
//
// It imports none of k8sdrv's packages and copies no runner code: it only
// reads struct tags.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	gitDir := flag.String("git", "", "gitlab-runner's git directory")
	head := flag.String("head", "HEAD", "the newest revision, read after the release tags")
	flag.Parse()
	if err := run(*gitDir, *head); err != nil {
		fmt.Fprintln(os.Stderr, "runnerkeys:", err)
		os.Exit(1)
	}
}

// release is one revision read: its name in the list and its commit.
type release struct{ name, commit string }

func run(gitDir, head string) error {
	if gitDir == "" {
		return fmt.Errorf("-git is required")
	}
	releases, err := minorReleases(gitDir)
	if err != nil {
		return err
	}
	headCommit, err := git(gitDir, "rev-parse", head)
	if err != nil {
		return err
	}
	headVersion, _ := git(gitDir, "show", head+":VERSION")
	releases = append(releases, release{name: "main(" + strings.TrimSpace(headVersion) + "-pre)", commit: strings.TrimSpace(headCommit)})

	first, last := map[string]string{}, map[string]string{}
	for _, r := range releases {
		keys, err := keysAt(gitDir, r.commit)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		for _, k := range keys {
			if _, ok := first[k]; !ok {
				first[k] = r.name
			}
			last[k] = r.name
		}
	}
	return write(os.Stdout, releases, first, last)
}

var minorTag = regexp.MustCompile(`^v(1[789])\.(\d+)\.0$`)

// minorReleases are the tags v17.0.0 … v19.N.0, oldest first.
func minorReleases(gitDir string) ([]release, error) {
	out, err := git(gitDir, "tag", "--list", "v1[789].*.0")
	if err != nil {
		return nil, err
	}
	type v struct{ major, minor int }
	var tags []v
	for _, t := range strings.Fields(out) {
		if m := minorTag.FindStringSubmatch(t); m != nil {
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			tags = append(tags, v{major, minor})
		}
	}
	sort.Slice(tags, func(i, j int) bool {
		return tags[i].major < tags[j].major || tags[i].major == tags[j].major && tags[i].minor < tags[j].minor
	})
	var rs []release
	for _, t := range tags {
		name := fmt.Sprintf("v%d.%d.0", t.major, t.minor)
		commit, err := git(gitDir, "rev-parse", name+"^{commit}")
		if err != nil {
			return nil, err
		}
		rs = append(rs, release{name: fmt.Sprintf("%d.%d", t.major, t.minor), commit: strings.TrimSpace(commit)})
	}
	return rs, nil
}

// keysAt parses the Go files of common/ at commit and lists the key paths
// under KubernetesConfig, dotted, without array indices.
func keysAt(gitDir, commit string) ([]string, error) {
	list, err := git(gitDir, "ls-tree", "--name-only", commit, "common/")
	if err != nil {
		return nil, err
	}
	types := map[string]ast.Expr{}
	fset := token.NewFileSet()
	for _, name := range strings.Fields(list) {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := git(gitDir, "show", commit+":"+name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					types[ts.Name.Name] = ts.Type
				}
			}
		}
	}
	root, ok := types["KubernetesConfig"]
	if !ok {
		return nil, fmt.Errorf("no KubernetesConfig in common/")
	}
	var keys []string
	walk(types, root, "", map[string]bool{}, &keys)
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// walk adds the keys of the struct type expr (through pointers, slices and
// named local types) under prefix; any other type is a leaf, already added
// by the caller.
func walk(types map[string]ast.Expr, expr ast.Expr, prefix string, seen map[string]bool, keys *[]string) {
	switch t := expr.(type) {
	case *ast.StarExpr:
		walk(types, t.X, prefix, seen, keys)
	case *ast.ArrayType:
		walk(types, t.Elt, prefix, seen, keys)
	case *ast.Ident:
		if under, ok := types[t.Name]; ok && !seen[t.Name] {
			seen[t.Name] = true
			walk(types, under, prefix, seen, keys)
			delete(seen, t.Name)
		}
	case *ast.StructType:
		for _, f := range t.Fields.List {
			name := tomlName(f)
			if name == "-" {
				continue
			}
			if len(f.Names) == 0 && name == "" { // embedded: its keys are this table's
				walk(types, f.Type, prefix, seen, keys)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Names[0].Name)
			}
			*keys = append(*keys, prefix+name)
			walk(types, f.Type, prefix+name+".", seen, keys)
		}
	}
}

func tomlName(f *ast.Field) string {
	if f.Tag == nil {
		return ""
	}
	tag, _ := strconv.Unquote(f.Tag.Value)
	name, _, _ := strings.Cut(reflect.StructTag(tag).Get("toml"), ",")
	return name
}

func write(w *os.File, releases []release, first, last map[string]string) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "# The keys of GitLab Runner's [runners.kubernetes] section: the toml tags of")
	fmt.Fprintln(b, "# common.KubernetesConfig and of every struct it holds, in gitlab-runner's source")
	fmt.Fprintln(b, "# (github.com/gitlabhq/gitlab-runner, common/*.go), read at each revision below.")
	fmt.Fprintln(b, "# Written by `go run ./hack/runnerkeys -git <gitlab-runner.git>`; do not edit by hand.")
	fmt.Fprintln(b, "#")
	for _, r := range releases {
		fmt.Fprintf(b, "# revision %s %s\n", r.name, r.commit)
	}
	fmt.Fprintln(b, "#")
	fmt.Fprintln(b, "# key, the first revision that has it (17.0: that release or older), the last when")
	fmt.Fprintln(b, "# it was later removed. Array entries have no index: volumes.pvc.name.")
	keys := make([]string, 0, len(first))
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	newest := releases[len(releases)-1].name
	for _, k := range keys {
		line := k + " " + first[k]
		if last[k] != newest {
			line += " removed-after " + last[k]
		}
		fmt.Fprintln(b, line)
	}
	return b.Flush()
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
