package attach

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/k8sdrv/k8sdrv/scripts"
)

// result collects what scripts/stage.sh reports on stderr: its protocol
// lines ("k8sdrv-status CODE LOGSIZE", "k8sdrv-error WHAT") and any other
// text, which is a diagnostic from the container's shell.
type result struct {
	status int
	// size is the stage log's final size: the exit code counts only once
	// that many bytes have been forwarded.
	size    int64
	done    bool
	failure string
	other   bytes.Buffer
	lines   Lines // stderr, split into lines
}

var _ io.Writer = (*result)(nil)

func (r *result) Write(p []byte) (int, error) {
	r.lines.Line = r.line
	return r.lines.Write(p)
}

func (r *result) line(s string) {
	switch {
	case strings.HasPrefix(s, scripts.StatusLine+" "):
		// Fields, not a split on one space: some wc implementations pad
		// the log size that stage.sh prints.
		fields := strings.Fields(strings.TrimPrefix(s, scripts.StatusLine+" "))
		if len(fields) != 2 || !unsigned(fields[0]) || !unsigned(fields[1]) {
			r.failure = "unreadable exit code " + strconv.Quote(s)
			return
		}
		code, err1 := strconv.Atoi(fields[0])
		size, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			r.failure = "unreadable exit code " + strconv.Quote(s)
			return
		}
		r.status, r.size, r.done = code, size, true
	case strings.HasPrefix(s, scripts.ErrorLine+" "):
		r.failure = strings.TrimPrefix(s, scripts.ErrorLine+" ")
	default:
		r.other.WriteString(s)
		r.other.WriteByte('\n')
	}
}

// unsigned reports whether s is a number as the shell prints an exit code
// or a byte count. strconv also takes a sign, and a "-1" log size would
// never match the bytes forwarded, so a broken status would pass for a
// broken stream and be followed again until the reconnect timeout.
func unsigned(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
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

// complete reports whether the stage ended and every byte of its log has
// been forwarded to out.
func (r *result) complete(out *countingWriter) bool {
	return r.done && r.size == out.n
}
