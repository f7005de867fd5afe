package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podlayout"
	"github.com/k8sdrv/k8sdrv/scripts"
)

// Stage is one CI stage to run in one container of the job pod.
type Stage struct {
	Exec      Executor
	Container string
	// Dirs are the stage's directories in the container, unique to this run.
	Dirs   podlayout.StageDirs
	Script []byte
	// Out receives the stage's output (stdout and stderr combined), each
	// byte exactly once and in order.
	Out io.Writer
	// Diag receives diagnostics from the container's shell, if any.
	Diag io.Writer
	// ReconnectTimeout bounds the time spent reconnecting without progress.
	ReconnectTimeout time.Duration
	// StopTimeout bounds the time a cancelled stage gets to end after TERM.
	StopTimeout time.Duration
	// Check is called after a broken stream; an error from it (the pod is
	// gone, the container has terminated) ends the stage at once.
	Check func(ctx context.Context) error
}

// ErrCancelled reports a stage stopped by the caller's context (SIGTERM)
// whose exit code could not be read.
var ErrCancelled = errors.New("stage cancelled")

const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// Run starts the stage and streams its output until it ends, reconnecting
// as often as needed. It returns the stage's exit code. An error means the
// outcome is unknown, which callers report as a system failure; a stream
// that ends without an exit code is never taken for success.
func (s *Stage) Run(ctx context.Context) (int, error) {
	out := &countingWriter{w: s.Out}
	attempt := 0
	mode, dir := scripts.ModeStart, s.Dirs.Attempt(attempt)
	backoff := firstBackoff
	var brokenSince time.Time
	for {
		before := out.n
		res, err := s.once(ctx, mode, dir, out)
		if res.complete(out) {
			return res.status, nil
		}
		if ctx.Err() != nil {
			return s.stop(dir, out)
		}
		switch {
		case res.failure == scripts.FailNotStarted || strings.HasPrefix(res.failure, scripts.FailIncompleteScript):
			// Safe to start again: the script never ran in that directory.
			attempt++
			mode, dir = scripts.ModeStart, s.Dirs.Attempt(attempt)
		case res.failure != "":
			return 0, fmt.Errorf("stage in container %s: %s", s.Container, res.failure)
		case refused(err):
			// Reconnecting cannot help when the API server refuses
			// k8sdrv's credentials or permission.
			return 0, fmt.Errorf("stage in container %s: %w", s.Container, err)
		case throttledFor(err) > 0:
			// The API server answered, asking to wait: the exec never
			// began, so the same one is tried again after the wait, which
			// is not time lost to a broken connection.
			if !sleep(ctx, max(backoff, throttledFor(err))) {
				return s.stop(dir, out)
			}
			brokenSince = time.Time{}
			continue
		default:
			// Also when the exit code came but output went missing on the
			// way: following again from our offset delivers the rest.
			mode = scripts.ModeFollow
		}
		if out.n > before || brokenSince.IsZero() {
			brokenSince, backoff = time.Now(), firstBackoff
		}
		if err := s.gaveUp(ctx, brokenSince, err); err != nil {
			return 0, err
		}
		if !sleep(ctx, backoff) {
			return s.stop(dir, out)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// gaveUp is what ends a stage whose stream broke with err (nil: it ended
// without an exit code): no progress for reconnect_timeout since
// brokenSince, or the pod's own end (Check); nil to reconnect.
func (s *Stage) gaveUp(ctx context.Context, brokenSince time.Time, err error) error {
	if err == nil {
		err = errors.New("stream ended without an exit code")
	}
	if time.Since(brokenSince) > s.ReconnectTimeout {
		return fmt.Errorf("lost the stage in container %s: no progress for %s: %w", s.Container, s.ReconnectTimeout, err)
	}
	if s.Check != nil {
		return s.Check(ctx)
	}
	return nil
}

// once runs one exec of scripts/stage.sh: start or follow from out's offset.
func (s *Stage) once(ctx context.Context, mode, dir string, out *countingWriter) (*result, error) {
	res := &result{}
	var stdin io.Reader
	arg := strconv.FormatInt(out.n, 10)
	if mode == scripts.ModeStart {
		stdin, arg = bytes.NewReader(s.Script), strconv.Itoa(len(s.Script))
	}
	err := s.Exec.Exec(ctx, s.Container, s.command(mode, dir, arg), stdin, out, res)
	if res.other.Len() > 0 && s.Diag != nil {
		_, _ = s.Diag.Write(res.other.Bytes())
	}
	return res, err
}

// stop ends a cancelled stage: TERM to its process group, a bounded wait
// for its exit code (and the output it prints while stopping), then KILL.
func (s *Stage) stop(dir string, out *countingWriter) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.StopTimeout+5*time.Second)
	defer cancel()
	for _, signal := range []string{"TERM", "KILL"} {
		if err := s.Exec.Exec(ctx, s.Container, s.command(scripts.ModeSignal, dir, signal), nil, io.Discard, io.Discard); err != nil {
			return 0, fmt.Errorf("%w: sending %s to the stage in %s: %v", ErrCancelled, signal, s.Container, err)
		}
		followCtx, cancelFollow := context.WithTimeout(ctx, s.StopTimeout/2)
		res, _ := s.once(followCtx, scripts.ModeFollow, dir, out)
		cancelFollow()
		if res.complete(out) {
			return res.status, nil
		}
	}
	return 0, fmt.Errorf("%w: the stage in %s did not report an exit code", ErrCancelled, s.Container)
}

// command is the exec command of stage.sh in mode on the attempt in dir;
// starting also needs the container's bin directory and supervise.sh.
func (s *Stage) command(mode, dir, arg string) []string {
	cmd := []string{"sh", "-c", scripts.Stage, "k8sdrv", mode, dir, arg}
	if mode == scripts.ModeStart {
		cmd = append(cmd, s.Dirs.Bin(), scripts.Supervise)
	}
	return cmd
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// throttledFor is how long to wait before an exec the API server
// throttled (429) is tried again: its Retry-After, at least a second; 0
// when err is not a 429.
func throttledFor(err error) time.Duration {
	retryAfter, ok := kubeapi.RetryAfter(err)
	if !ok {
		return 0
	}
	return max(retryAfter, time.Second)
}

// refused reports whether the API server refused the exec itself: bad
// credentials or a missing permission.
func refused(err error) bool {
	return apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err)
}
