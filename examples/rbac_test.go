// Package examples holds example configurations; its tests keep them true
// to the code.
package examples

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

var kubeAPIComment = regexp.MustCompile(`//\s*kubeAPI:\s*([a-z/]+),\s*([a-z]+)`)

// TestRBACRoleMatchesCode: the example Role and ClusterRole grant exactly the resources
// and verbs that the code's `// kubeAPI:` comments declare.
func TestRBACRoleMatchesCode(t *testing.T) {
	assert.DeepEqual(t, rulePermissions(roleRules(t, "rbac.yaml")), sortedValues(codePermissions(t)))
}

// rulePermissions are the resources and verbs rules grant: resource →
// sorted verbs.
func rulePermissions(rules []rbacv1.PolicyRule) map[string][]string {
	got := map[string][]string{}
	for _, rule := range rules {
		for _, resource := range ruleResources(rule) {
			for _, verb := range rule.Verbs {
				got[resource] = appendUnique(got[resource], verb)
			}
		}
	}
	return sortedValues(got)
}

// sortedValues sorts every list of m in place and returns m.
func sortedValues(m map[string][]string) map[string][]string {
	for k := range m {
		sort.Strings(m[k])
	}
	return m
}

// codePermissions collects the `// kubeAPI: <resource>, <verb>` comments
// of k8sdrv's code (its tests and the e2e suite aside): resource → verbs.
func codePermissions(t *testing.T) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "e2e" || strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		scan := bufio.NewScanner(f)
		for scan.Scan() {
			if m := kubeAPIComment.FindStringSubmatch(scan.Text()); m != nil {
				want[m[1]] = appendUnique(want[m[1]], m[2])
			}
		}
		return scan.Err()
	})
	assert.NilError(t, err)
	assert.Assert(t, len(want) > 0, "no kubeAPI comments found")
	return want
}

func roleRules(t *testing.T, path string) []rbacv1.PolicyRule {
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	var rules []rbacv1.PolicyRule
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var role rbacv1.Role
		assert.NilError(t, yaml.Unmarshal(doc, &role))
		if role.Kind == "Role" || role.Kind == "ClusterRole" {
			rules = append(rules, role.Rules...)
		}
	}
	assert.Assert(t, len(rules) > 0, "%s has no Role", path)
	return rules
}

// ruleResources names a rule's resources as the `// kubeAPI:` comments
// do: "pods", "pods/exec" in the core group, "<group>/<resource>" in
// another ("policy/poddisruptionbudgets").
func ruleResources(rule rbacv1.PolicyRule) []string {
	var out []string
	for _, group := range rule.APIGroups {
		for _, r := range rule.Resources {
			if group != "" {
				r = group + "/" + r
			}
			out = append(out, r)
		}
	}
	return out
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// clusterRoleResources are the resources that rbac.yaml grants only in a
// ClusterRole (nodes, namespaces for namespace_per_job), not in its Role.
func clusterRoleResources(t *testing.T) map[string]bool {
	data, err := os.ReadFile("rbac.yaml")
	assert.NilError(t, err)
	inRole, inCluster := map[string]bool{}, map[string]bool{}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var role rbacv1.Role
		assert.NilError(t, yaml.Unmarshal(doc, &role))
		for _, rule := range role.Rules {
			for _, r := range ruleResources(rule) {
				switch role.Kind {
				case "Role":
					inRole[r] = true
				case "ClusterRole":
					inCluster[r] = true
				}
			}
		}
	}
	out := map[string]bool{}
	for r := range inCluster {
		if !inRole[r] {
			out[r] = true
		}
	}
	return out
}
