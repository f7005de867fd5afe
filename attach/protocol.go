package attach

import (
	"bytes"
	"io"
	"strconv"
	"strings"
)

// result collects what scripts/stage.sh reports on stderr: its protocol
// lines ("k8sdrv-status CODE", "k8sdrv-error WHAT") and any other text,
// which is a diagnostic from the container's shell.
type result struct {
	status  int
	done    bool
	failure string
	other   bytes.Buffer
	partial []byte
}

var _ io.Writer = (*result)(nil)

func (r *result) Write(p []byte) (int, error) {
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		r.line(string(r.partial[:i]))
		r.partial = r.partial[i+1:]
	}
}

func (r *result) line(s string) {
	switch {
	case strings.HasPrefix(s, "k8sdrv-status "):
		code, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(s, "k8sdrv-status ")))
		if err != nil {
			r.failure = "unreadable exit code " + strconv.Quote(s)
			return
		}
		r.status, r.done = code, true
	case strings.HasPrefix(s, "k8sdrv-error "):
		r.failure = strings.TrimPrefix(s, "k8sdrv-error ")
	default:
		r.other.WriteString(s)
		r.other.WriteByte('\n')
	}
}

// countingWriter forwards to w and counts the bytes w accepted: the offset
// from which a reconnect resumes.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
