package driver

import (
	"io"
	"strings"
	"sync"

	"github.com/k8sdrv/k8sdrv/job"
)

// ScrubWriter passes everything on to its writer with the job's masked
// values hidden (see job.Job.Scrubber), once Hide has been told the job.
// It sits under the logger, so that warnings, progress lines, events from
// the cluster and the final error are all covered, whatever they quote.
// zerolog writes each line with one Write, so a value is never split
// between two calls.
type ScrubWriter struct {
	out io.Writer

	mu       sync.Mutex
	scrubber *strings.Replacer
}

// NewScrubWriter returns a ScrubWriter on w that hides nothing yet.
func NewScrubWriter(w io.Writer) *ScrubWriter { return &ScrubWriter{out: w} }

// Hide makes w hide job j's masked values from now on.
func (w *ScrubWriter) Hide(j *job.Job) {
	if len(j.Masked) == 0 {
		return
	}
	scrubber := j.Scrubber()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scrubber = scrubber
}

func (w *ScrubWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.scrubber == nil {
		return w.out.Write(p)
	}
	if _, err := io.WriteString(w.out, w.scrubber.Replace(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Scrub hides job j's masked variable values in err's message (an API
// error may echo a label or annotation built from one), keeping err's
// type for ExitCode.
func Scrub(err error, j *job.Job) error {
	if err == nil || j == nil || len(j.Masked) == 0 {
		return err
	}
	msg := j.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
