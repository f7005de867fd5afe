package driver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestJobTimeLine: the cleanup line sums up the job from the start of
// prepare: prepare (every call of a retried prepare), the stages with the
// longest, and cleanup.
func TestJobTimeLine(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	calls := []callTime{
		{"prepare", t0, 2900 * time.Millisecond},
		{"get_sources", t0.Add(3 * time.Second), 1200 * time.Millisecond},
		{"build_script", t0.Add(5 * time.Second), 58 * time.Second},
		{"after_script", t0.Add(63 * time.Second), 340 * time.Millisecond},
	}
	got := jobTimeLine(calls, t0.Add(64200*time.Millisecond), 120*time.Millisecond)
	assert.Equal(t, got, "Job took 1m4.2s from prepare to the end of cleanup: prepare 2.9s, 3 stages 59.5s (longest build_script 58.0s), cleanup 0.1s")

	got = jobTimeLine(calls[:1], t0.Add(3*time.Second), 50*time.Millisecond)
	assert.Equal(t, got, "Job took 3.0s from prepare to the end of cleanup: prepare 2.9s, cleanup 0.1s")

	assert.Equal(t, jobTimeLine(nil, t0, time.Second), "", "nothing recorded: no line")
}

// TestCleanupSumsUpTheJob: prepare and each stage record their time in
// TMPDIR; cleanup prints the sum for the runner's log and removes the
// file. A times file next to another job's state is not summed up, but
// removed all the same.
func TestCleanupSumsUpTheJob(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	d.Started = time.Now().Add(-1500 * time.Millisecond)
	d.recordTime("build_script")
	times := filepath.Join(d.Env.TmpDir, timesFile)
	calls, err := readTimes(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.Equal(t, len(calls), 2, "prepare and one stage")
	assert.Equal(t, calls[0].call, "prepare")

	d.Started = time.Now()
	assert.NilError(t, d.cleanup())
	assert.Assert(t, is.Regexp(`(?m)^Job took \d+\.\ds from prepare to the end of cleanup: prepare \d+\.\ds, 1 stage 1\.5s \(longest build_script 1\.5s\), cleanup \d+\.\ds$`, d.stderr.String()))
	_, err = os.Stat(times)
	assert.Assert(t, os.IsNotExist(err), "the times file is removed")

	other := newTestDriver(t)
	other.writeState(t, foreignState)
	other.recordTime("build_script")
	assert.NilError(t, other.cleanup())
	assert.Assert(t, !is.Contains(other.stderr.String(), "Job took")().Success(), other.stderr.String())
	_, err = os.Stat(filepath.Join(other.Env.TmpDir, timesFile))
	assert.Assert(t, os.IsNotExist(err))
}
