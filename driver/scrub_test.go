package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/job"
)

// secret is a masked value with the characters that quoting escapes.
const secret = `s3cr"et\value`

// withMaskedJob gives d a job response with secret as the masked variable
// TOKEN.
func withMaskedJob(t *testing.T, d *testDriver) {
	t.Helper()
	response := filepath.Join(t.TempDir(), "response.json")
	body := fmt.Sprintf(`{"variables": [{"key": "TOKEN", "value": %q, "masked": true}]}`, secret)
	assert.NilError(t, os.WriteFile(response, []byte(body), 0o600))
	d.Env.JobResponseFile = response
	d.Environ = append(d.Environ, "CUSTOM_ENV_TOKEN="+secret)
}

// TestLogHidesMaskedValuesInWarningEvents: a Warning event from the
// cluster may echo anything from the pod; once the job is known, its
// masked values never reach the job log, raw or quoted.
func TestLogHidesMaskedValuesInWarningEvents(t *testing.T) {
	d := newTestDriver(t)
	withMaskedJob(t, d)
	d.setStatusWhenCreated(t, running("helper"), waiting("build", "CreateContainerConfigError"))
	d.warningEvent(fmt.Sprintf("raw %s, quoted %q", secret, secret))
	assert.ErrorContains(t, d.prepare(context.Background()), "CreateContainerConfigError")
	assert.Assert(t, strings.Contains(d.stderr.String(), "Failed: raw [MASKED], quoted \"[MASKED]\""), d.stderr.String())
	assertNoSecret(t, "stderr", d.stderr.String())
}

// warningEvent makes the job's pod have one Warning event, "Failed" with
// message: events echo whatever the kubelet saw.
func (d *testDriver) warningEvent(message string) {
	d.client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		pod, _ := loadState(d.Env.TmpDir)
		return true, &corev1.EventList{Items: []corev1.Event{{
			InvolvedObject: corev1.ObjectReference{Name: pod.Pod}, Type: corev1.EventTypeWarning, Reason: "Failed", Message: message,
		}}}, nil
	})
}

// assertNoSecret fails the test if text holds the secret or a piece of
// it that only the secret would leave behind.
func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, piece := range []string{"s3cr", `et\value`, `et\\value`} {
		assert.Check(t, !strings.Contains(text, piece), "%s holds %q:\n%s", where, piece, text)
	}
}

// TestScrubWriterHidesOnceTheJobIsKnown: lines before the job is read
// pass as they are; after, every line is scrubbed, and a write reports
// the length it was given, as io.Writer requires.
func TestScrubWriterHidesOnceTheJobIsKnown(t *testing.T) {
	var out strings.Builder
	w := NewScrubWriter(&out)
	line := fmt.Sprintf("token %q\n", secret)
	n, err := w.Write([]byte(line))
	assert.NilError(t, err)
	assert.Equal(t, n, len(line))
	assert.Equal(t, out.String(), line)

	out.Reset()
	w.Hide(&job.Job{Masked: []string{secret}})
	n, err = w.Write([]byte(line))
	assert.NilError(t, err)
	assert.Equal(t, n, len(line))
	assert.Equal(t, out.String(), "token \"[MASKED]\"\n")
}
