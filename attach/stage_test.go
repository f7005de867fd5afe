package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/streaming/pkg/httpstream"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podlayout"
	"github.com/k8sdrv/k8sdrv/scripts"
)

// localExecutor runs commands as local processes: the stage protocol needs
// only a POSIX sh, so the host stands in for the container.
type localExecutor struct{}

func (localExecutor) Exec(ctx context.Context, _ string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

// flakyExecutor breaks the stream of its first `drops` execs after
// `after` bytes of stdout, like an API connection cut mid-stage.
type flakyExecutor struct {
	mu    sync.Mutex
	drops int
	after int
	execs int
}

var errCut = errors.New("connection cut")

func (f *flakyExecutor) Exec(ctx context.Context, c string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f.mu.Lock()
	f.execs++
	drop := f.drops > 0
	if drop {
		f.drops--
	}
	f.mu.Unlock()
	if !drop {
		return localExecutor{}.Exec(ctx, c, command, stdin, stdout, stderr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cut := &cutWriter{w: stdout, left: f.after, cancel: cancel}
	err := localExecutor{}.Exec(ctx, c, command, stdin, cut, stderr)
	if cut.cut {
		return errCut
	}
	return err
}

// cutWriter passes `left` bytes on, then fails and cancels the exec.
type cutWriter struct {
	w      io.Writer
	left   int
	cancel func()
	cut    bool
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.cut {
		return 0, errCut
	}
	if len(p) > c.left {
		n, _ := c.w.Write(p[:c.left])
		c.cut = true
		c.cancel()
		return n, errCut
	}
	c.left -= len(p)
	return c.w.Write(p)
}

// lockedBuffer is a bytes.Buffer that tests may read while a stage writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newStage(t *testing.T, exec Executor, script string) (*Stage, *lockedBuffer) {
	out := &lockedBuffer{}
	return &Stage{
		Exec:             exec,
		Container:        "build",
		Dirs:             podlayout.New(t.TempDir()).Stage("build", "stage", time.Now()),
		Script:           []byte(script),
		Out:              out,
		Diag:             os.Stderr,
		ReconnectTimeout: 10 * time.Second,
		StopTimeout:      4 * time.Second,
	}, out
}

func TestStageOutputAndExitCode(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
		code               int
	}{
		{"success", "echo hello\n", "hello\n", 0},
		{"exit code", "echo out; echo err >&2; exit 7\n", "out\nerr\n", 7},
		{"no trailing newline", "printf 'a\\tb'\n", "a\tb", 0},
		{"empty", "", "", 0},
		// The shell running the stage may report the kill in the log.
		{"killed", "kill -KILL $$\n", "?", 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out := newStage(t, localExecutor{}, tc.script)
			code, err := s.Run(context.Background())
			assert.NilError(t, err)
			assert.Equal(t, code, tc.code)
			if tc.want != "?" {
				assert.Equal(t, out.String(), tc.want)
			}
		})
	}
}

// TestStageResumesAfterDroppedStreams: every byte arrives exactly once and
// in order although the first five streams break part-way.
func TestStageResumesAfterDroppedStreams(t *testing.T) {
	var want strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&want, "line %04d %s\n", i, strings.Repeat("=", 20))
	}
	script := "i=0; while [ $i -lt 2000 ]; do printf 'line %04d %s\\n' $i ====================; i=$((i+1)); done; exit 4\n"
	flaky := &flakyExecutor{drops: 5, after: 3000}
	s, out := newStage(t, flaky, script)
	code, err := s.Run(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, code, 4)
	assert.Equal(t, out.String(), want.String())
	assert.Assert(t, flaky.execs >= 6)
}

// failFirst fails its first n execs before anything runs remotely.
type failFirst struct {
	n     int
	execs int
}

func (f *failFirst) Exec(ctx context.Context, c string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f.execs++
	if f.execs <= f.n {
		return errors.New("dial tcp: connection refused")
	}
	return localExecutor{}.Exec(ctx, c, command, stdin, stdout, stderr)
}

// TestStageStartsOnceAfterFailedStart: when the first exec never reached
// the container, the stage is started again, and runs exactly once.
func TestStageStartsOnceAfterFailedStart(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "runs")
	exec := &failFirst{n: 2}
	s, out := newStage(t, exec, "echo run >> "+counter+"; echo done\n")
	code, err := s.Run(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, code, 0)
	assert.Equal(t, out.String(), "done\n")
	runs, err := os.ReadFile(counter)
	assert.NilError(t, err)
	assert.Equal(t, string(runs), "run\n")
}

// brokenExecutor never gets a stream through.
type brokenExecutor struct{}

func (brokenExecutor) Exec(context.Context, string, []string, io.Reader, io.Writer, io.Writer) error {
	return errors.New("connection refused")
}

func TestStageGivesUpAfterReconnectTimeout(t *testing.T) {
	s, _ := newStage(t, brokenExecutor{}, "true\n")
	s.ReconnectTimeout = 300 * time.Millisecond
	_, err := s.Run(context.Background())
	assert.ErrorContains(t, err, "no progress for 300ms")
	assert.ErrorContains(t, err, "connection refused")
}

func TestStageStopsWhenCheckFails(t *testing.T) {
	s, _ := newStage(t, brokenExecutor{}, "true\n")
	s.Check = func(context.Context) error { return errors.New("pod was deleted") }
	_, err := s.Run(context.Background())
	assert.Error(t, err, "pod was deleted")
}

// TestStageCancel: cancelling the context stops the remote stage with TERM
// and returns the code it ended with.
func TestStageCancel(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "after-sleep")
	s, out := newStage(t, localExecutor{}, "echo started; sleep 30; touch "+marker+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !strings.Contains(out.String(), "started") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	code, err := s.Run(ctx)
	assert.NilError(t, err)
	assert.Equal(t, code, 143)
	assert.Assert(t, time.Since(start) < 20*time.Second)
	_, statErr := os.Stat(marker)
	assert.Assert(t, os.IsNotExist(statErr), "the stage went on after TERM")
}

func TestResultParsesSplitProtocolLines(t *testing.T) {
	r := &result{}
	for _, chunk := range []string{"sh: warn", "ing\nk8sdrv-sta", "tus 4", "2 17\n"} {
		_, err := r.Write([]byte(chunk))
		assert.NilError(t, err)
	}
	assert.Assert(t, r.done)
	assert.Equal(t, r.status, 42)
	assert.Equal(t, r.size, int64(17))
	assert.Equal(t, r.other.String(), "sh: warning\n")

	r = &result{}
	_, _ = r.Write([]byte("k8sdrv-error not-started\n"))
	assert.Assert(t, !r.done)
	assert.Check(t, is.Equal(r.failure, "not-started"))

	// A sign is no part of an exit code or a log size as the shell prints them.
	r = &result{}
	_, _ = r.Write([]byte("k8sdrv-status +0 -4\n"))
	assert.Assert(t, !r.done)
	assert.Check(t, is.Equal(r.failure, `unreadable exit code "k8sdrv-status +0 -4"`))
}

// TestLateLauncherDoesNotRun: once a follower has declared a directory
// not started (the driver then starts the stage elsewhere), a launcher
// that arrives late with the whole script gives up instead of running it.
func TestLateLauncherDoesNotRun(t *testing.T) {
	s, _ := newStage(t, localExecutor{}, "")
	dir := s.Dirs.Attempt(0)
	var stderr bytes.Buffer
	_ = localExecutor{}.Exec(context.Background(), "build", s.command(scripts.ModeFollow, dir, "0"), nil, io.Discard, &stderr)
	assert.Equal(t, stderr.String(), "k8sdrv-error not-started\n")

	marker := filepath.Join(t.TempDir(), "ran")
	script := "touch " + marker + "\n"
	stderr.Reset()
	_ = localExecutor{}.Exec(context.Background(), "build", s.command(scripts.ModeStart, dir, fmt.Sprint(len(script))), strings.NewReader(script), io.Discard, &stderr)
	assert.Equal(t, stderr.String(), "k8sdrv-error abandoned\n")
	_, err := os.Stat(marker)
	assert.Assert(t, os.IsNotExist(err), "the late launcher ran the script")
}

// TestStageFindsGitlabRunner: the stage scripts call gitlab-runner, which
// the helper image ships as gitlab-runner-helper; the container's bin
// directory, first on the stage's PATH, bridges the names.
func TestStageFindsGitlabRunner(t *testing.T) {
	if _, err := exec.LookPath("gitlab-runner"); err == nil {
		t.Skip("gitlab-runner is installed on this host")
	}
	tools := t.TempDir()
	helper := filepath.Join(tools, "gitlab-runner-helper")
	assert.NilError(t, os.WriteFile(helper, []byte("#!/bin/sh\necho helper \"$@\"\n"), 0o755))
	t.Setenv("PATH", tools+string(os.PathListSeparator)+os.Getenv("PATH"))
	s, out := newStage(t, localExecutor{}, "gitlab-runner artifacts-uploader\n")
	code, err := s.Run(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, code, 0)
	assert.Equal(t, out.String(), "helper artifacts-uploader\n")
	_, err = os.Lstat(filepath.Join(s.Dirs.Bin(), "gitlab-runner"))
	assert.NilError(t, err)
}

// refusingExecutor is an API server that refuses every exec.
type refusingExecutor struct{ err error }

func (r refusingExecutor) Exec(context.Context, string, []string, io.Reader, io.Writer, io.Writer) error {
	return r.err
}

// TestStageFailsAtOnceWhenTheExecIsRefused: bad credentials or a missing
// permission end the stage with the reason, without reconnecting until
// the reconnect timeout.
func TestStageFailsAtOnceWhenTheExecIsRefused(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	for _, refusal := range []error{
		apierrors.NewForbidden(pods, "p", errors.New(`cannot create resource "pods/exec"`)),
		apierrors.NewUnauthorized("token expired"),
	} {
		s, _ := newStage(t, refusingExecutor{kubeapi.Failed("exec in", "container build of pod", "ci", "p", refusal)}, "true\n")
		s.ReconnectTimeout = time.Minute
		start := time.Now()
		_, err := s.Run(context.Background())
		assert.Assert(t, errors.Is(err, refusal), "%v", err)
		assert.Assert(t, time.Since(start) < 5*time.Second, "took %s", time.Since(start))
	}
}

// TestRefusedUpgradeKeepsTheReason: a WebSocket upgrade the API server
// refused keeps its status (no SPDY fallback that would blur it); other
// upgrade failures fall back.
func TestRefusedUpgradeKeepsTheReason(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p", errors.New("no exec"))
	got := refusedUpgrade(fmt.Errorf("stream: %w", &httpstream.UpgradeFailureError{Cause: forbidden}))
	assert.Assert(t, got != nil && apierrors.IsForbidden(got))
	assert.Assert(t, refusedUpgrade(&httpstream.UpgradeFailureError{Cause: errors.New("bad handshake")}) == nil)
	assert.Assert(t, refusedUpgrade(&httpstream.UpgradeFailureError{Cause: apierrors.NewBadRequest("upgrade required")}) == nil)
	assert.Assert(t, refusedUpgrade(errors.New("connection reset")) == nil)
}

// TestStageWhoseSupervisorDies: a stage whose supervisor is killed (here
// by the script itself) never writes its exit code; the follower says so
// instead of waiting for it until the job's timeout.
func TestStageWhoseSupervisorDies(t *testing.T) {
	s, out := newStage(t, localExecutor{}, "echo before; kill -KILL $PPID; echo after\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx)
	assert.ErrorContains(t, err, "ended without writing the exit code")
	assert.Assert(t, !errors.Is(err, ErrCancelled))
	assert.Assert(t, time.Since(start) < 5*time.Second, time.Since(start))
	assert.Assert(t, strings.HasPrefix(out.String(), "before\n"), out.String())
}
