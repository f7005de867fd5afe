package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// canary is a masked value with the characters quoting escapes; its two
// ends survive every encoding, so finding either anywhere is a leak.
const canary = `C4NARY"q\t-ZQ7`

// maskedJob is a job whose masked variable TOKEN holds the canary, with
// the plain variable TEAM beside it.
func maskedJob(t *testing.T, config string) *job {
	j := newJob(t, jobOptions{config: config, response: map[string]any{"variables": []map[string]any{
		{"key": "TOKEN", "value": canary, "masked": true},
		{"key": "TEAM", "value": "ml"},
	}}})
	j.env["CUSTOM_ENV_TOKEN"] = canary
	j.env["CUSTOM_ENV_TEAM"] = "ml"
	return j
}

// assertNoCanary fails for every text the canary reached.
func assertNoCanary(t *testing.T, texts map[string]string) {
	t.Helper()
	for where, text := range texts {
		for _, end := range []string{"C4NARY", "ZQ7"} {
			assert.Check(t, !strings.Contains(text, end), "the masked value reached %s:\n%s", where, text)
		}
	}
}

// TestIntegrationMaskedValueRefused: a masked value that pod_annotations
// and a label overwrite would expand into the pod, and that a refused
// namespace overwrite holds, fails the job as a build failure naming the
// variable; the binary prints the value nowhere and creates nothing.
func TestIntegrationMaskedValueRefused(t *testing.T) {
	j := maskedJob(t, `namespace_overwrite_allowed = "ci-.*"
pod_labels_overwrite_allowed = ".*"
[pod_annotations]
"example.com/token" = "t=$TOKEN"
`)
	j.env["CUSTOM_ENV_KUBERNETES_POD_LABELS_1"] = "team=$TOKEN"
	j.env["CUSTOM_ENV_KUBERNETES_NAMESPACE_OVERWRITE"] = canary
	r := j.call("prepare")
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Check(t, is.Contains(r.stderr, `KUBERNETES_NAMESPACE_OVERWRITE="[MASKED]" is not allowed`))
	assert.Check(t, is.Contains(r.stderr, `KUBERNETES_POD_LABELS_* "team": it would hold masked variable TOKEN`))
	assert.Check(t, is.Contains(r.stderr, `pod_annotations "example.com/token": it would hold masked variable TOKEN`))
	assert.DeepEqual(t, j.pods(), []string(nil))
	c := j.call("cleanup")
	assert.Equal(t, c.code, 0, c.stderr)
	assertNoCanary(t, map[string]string{"prepare stdout": r.stdout, "prepare stderr": r.stderr,
		"cleanup stdout": c.stdout, "cleanup stderr": c.stderr})
	assertNoCanary(t, k8sdrvFiles(t, j))
}

// TestIntegrationMaskedValueKeptOut: a job with a masked variable runs;
// its pod as the API server stores it, the binary's output and the files
// it leaves in TMPDIR hold nothing of the value.
func TestIntegrationMaskedValueKeptOut(t *testing.T) {
	j := maskedJob(t, `pod_labels_overwrite_allowed = ".*"
[pod_annotations]
"example.com/team" = "$TEAM"
`)
	j.env["CUSTOM_ENV_KUBERNETES_POD_LABELS_1"] = "team=$TEAM"
	texts := map[string]string{}
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	texts["prepare stdout"], texts["prepare stderr"] = r.stdout, r.stderr
	list, err := kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: "k8sdrv.io/job-id=" + j.id})
	assert.NilError(t, err)
	assert.Equal(t, len(list.Items), 1)
	pod, err := json.Marshal(list.Items[0])
	assert.NilError(t, err)
	texts["the pod"] = string(pod)
	assert.Check(t, is.Contains(texts["the pod"], `"example.com/team":"ml"`))
	out := j.run("build_script", "echo ran\n")
	assert.Equal(t, out.code, 0, out.stderr)
	texts["run stdout"], texts["run stderr"] = out.stdout, out.stderr
	c := j.call("cleanup")
	assert.Equal(t, c.code, 0, c.stderr)
	texts["cleanup stdout"], texts["cleanup stderr"] = c.stdout, c.stderr
	assertNoCanary(t, texts)
	assertNoCanary(t, k8sdrvFiles(t, j))
}

// k8sdrvFiles reads the files in the job's TMPDIR that k8sdrv wrote: all
// but the job response and the stage scripts, which come from the runner
// (and carry the job's variables by design).
func k8sdrvFiles(t *testing.T, j *job) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(j.tmp)
	assert.NilError(t, err)
	files := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "response.json" || strings.HasPrefix(e.Name(), "script") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(j.tmp, e.Name()))
		assert.NilError(t, err)
		files["$TMPDIR/"+e.Name()] = string(data)
	}
	return files
}
