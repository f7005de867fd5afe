package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gotest.tools/v3/assert"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// canary is a masked value with the characters that quoting escapes; its
// two ends survive every encoding (%q, JSON, label cleaning), so finding
// either of them anywhere is a leak.
const canary = `C4NARY"q\t-ZQ7`

var canaryEnds = []string{"C4NARY", "ZQ7"}

// canaryDriver is a test driver whose job has the masked variable TOKEN
// set to the canary, with everything k8sdrv prints and creates recorded.
type canaryDriver struct {
	*testDriver
	stdout  bytes.Buffer
	mu      sync.Mutex
	created []string // every object k8sdrv created, as JSON
}

func newCanaryDriver(t *testing.T) *canaryDriver {
	d := &canaryDriver{testDriver: newTestDriver(t)}
	d.Stdout = &d.stdout
	response := filepath.Join(t.TempDir(), "response.json")
	body, err := json.Marshal(map[string]any{"variables": []map[string]any{
		{"key": "TOKEN", "value": canary, "masked": true},
		{"key": "TEAM", "value": "ml", "masked": false},
	}})
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(response, body, 0o600))
	d.Env.JobResponseFile = response
	d.Environ = append(d.Environ, "CUSTOM_ENV_TOKEN="+canary, "CUSTOM_ENV_TEAM=ml")
	d.client.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		data, err := json.Marshal(action.(k8stesting.CreateAction).GetObject())
		assert.Check(t, err)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.created = append(d.created, string(data))
		return false, nil, nil
	})
	return d
}

// assertNoCanary fails the test for every place the canary reached:
// stdout and stderr (the final error lines included), the objects created
// in the cluster, and the files in $TMPDIR.
func (d *canaryDriver) assertNoCanary(t *testing.T) {
	t.Helper()
	places := map[string]string{"stdout": d.stdout.String(), "stderr": d.stderr.String()}
	d.mu.Lock()
	for i, obj := range d.created {
		places[fmt.Sprintf("created object %d", i)] = obj
	}
	d.mu.Unlock()
	err := filepath.WalkDir(d.Env.TmpDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		places["$TMPDIR file "+e.Name()] = string(data)
		return err
	})
	assert.NilError(t, err)
	for where, text := range places {
		for _, end := range canaryEnds {
			assert.Check(t, !strings.Contains(text, end), "the masked value reached %s:\n%s", where, text)
		}
	}
}

// TestCanaryRefusedJob: a job that would put its masked value into the
// pod's annotations (through the operator's pod_annotations) and labels
// (through an overwrite variable), and whose refused namespace overwrite
// holds it, fails as a build failure naming the variables; the value is
// printed nowhere and no object is created.
func TestCanaryRefusedJob(t *testing.T) {
	d := newCanaryDriver(t)
	d.cfg.PodAnnotations = map[string]string{"example.com/token": "t=$TOKEN"}
	d.cfg.PodLabelsOverwriteAllowed = ".*"
	d.cfg.NamespaceOverwriteAllowed = "ci-.*"
	d.Environ = append(d.Environ,
		"CUSTOM_ENV_KUBERNETES_POD_LABELS_1=team=$TOKEN",
		"CUSTOM_ENV_KUBERNETES_NAMESPACE_OVERWRITE="+canary)

	err := d.prepare(context.Background())
	code := ExitCode(err, d.Env, d.Log)

	assert.Equal(t, code, d.Env.BuildFailureExitCode)
	for _, want := range []string{
		`ERROR: k8sdrv: KUBERNETES_NAMESPACE_OVERWRITE="[MASKED]" is not allowed`,
		`ERROR: k8sdrv: KUBERNETES_POD_LABELS_* "team": it would hold masked variable TOKEN`,
		`ERROR: k8sdrv: pod_annotations "example.com/token": it would hold masked variable TOKEN`,
	} {
		assert.Check(t, strings.Contains(d.stderr.String(), want), "%s\nnot in:\n%s", want, d.stderr.String())
	}
	assert.DeepEqual(t, d.created, []string(nil))
	d.assertNoCanary(t)
}

// TestCanaryAcceptedJob: a job with a masked variable whose pod starts
// (after a Warning event that echoes the value) and a dry run of it keep
// the value out of the pod, the job log, stdout and $TMPDIR.
func TestCanaryAcceptedJob(t *testing.T) {
	d := newCanaryDriver(t)
	d.cfg.PodAnnotations = map[string]string{"example.com/team": "$TEAM"}
	d.cfg.PodLabelsOverwriteAllowed = ".*"
	d.Environ = append(d.Environ, "CUSTOM_ENV_KUBERNETES_POD_LABELS_1=team=$TEAM", "CUSTOM_ENV_KUBERNETES_CPU_LIMIT=2")
	d.setStatusWhenCreated(t, running("helper"), waiting("build", "CreateContainerConfigError"))
	d.warningEvent(fmt.Sprintf("env TOKEN=%s, quoted %q", canary, canary))

	assert.NilError(t, d.dryRun())
	err := d.prepare(context.Background())
	ExitCode(err, d.Env, d.Log)

	assert.ErrorContains(t, err, "CreateContainerConfigError")
	assert.Equal(t, len(d.created), 1, "the pod")
	assert.Assert(t, strings.Contains(d.created[0], `"example.com/team":"ml"`), d.created[0])
	assert.Assert(t, strings.Contains(d.stderr.String(), "Failed: env TOKEN=[MASKED]"), d.stderr.String())
	d.assertNoCanary(t)
}
