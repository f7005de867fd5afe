package podlayout

import (
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// TestLayout pins the paths inside a job pod: operators debugging a stage
// find its files there.
func TestLayout(t *testing.T) {
	l := New("/k8sdrv")
	assert.Equal(t, l.MountPath(), "/k8sdrv")
	s := l.Stage("helper", "get_sources", time.Unix(0, 36*36+1))
	assert.Equal(t, s.Attempt(0), "/k8sdrv/helper/get_sources-101.0")
	assert.Equal(t, s.Attempt(12), "/k8sdrv/helper/get_sources-101.12")
	assert.Equal(t, s.Bin(), "/k8sdrv/helper/bin")
}

func TestStagesStartedApartDoNotShareDirectories(t *testing.T) {
	l := New("/k8sdrv")
	start := time.Now()
	a := l.Stage("build", "step_script", start)
	b := l.Stage("build", "step_script", start.Add(time.Nanosecond))
	assert.Assert(t, a.Attempt(0) != b.Attempt(0))
	assert.Equal(t, a.Bin(), b.Bin())
}
