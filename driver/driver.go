package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// Driver carries what every stage needs besides the job: the runner's
// environment, the output streams and the cluster connection, which is
// made on first use so that config and dry runs never touch it.
type Driver struct {
	Env     RunnerEnv
	Environ []string
	Version string
	// Started is when the process started its stage: the times that
	// cleanup sums up (jobtime.go) are measured from it.
	Started time.Time
	Stdout  io.Writer
	Stderr  io.Writer
	Log     zerolog.Logger
	// Secrets is the writer under Log and Stderr; LoadJob gives it the
	// job's masked values to hide.
	Secrets *ScrubWriter
	// Connect builds the cluster access for a job's configuration; tests
	// replace it.
	Connect func(cfg *config.Config) (Cluster, error)

	once    sync.Once
	cluster Cluster
	err     error
	// throttledSeen is set once the API server has answered 429.
	throttledSeen atomic.Bool
}

// New returns a Driver that connects with the job's configuration (the
// operator's, or the job's own bearer token where allowed).
// A *ScrubWriter as stderr is used as it is: the command line builds its
// logger on one before the driver exists.
func New(env RunnerEnv, environ []string, version string, stdout, stderr io.Writer) *Driver {
	secrets, ok := stderr.(*ScrubWriter)
	if !ok {
		secrets = NewScrubWriter(stderr)
	}
	d := &Driver{
		Env: env, Environ: environ, Version: version, Started: time.Now(),
		Stdout: stdout, Stderr: secrets, Secrets: secrets,
		Log: NewLogger(secrets, false),
	}
	d.Connect = func(cfg *config.Config) (Cluster, error) {
		return Connect(cfg, "k8sdrv/"+version, d.throttled)
	}
	return d
}

// throttled says once in the job log that the API server throttles
// k8sdrv: the requests it refuses are waited out and tried again (by
// client-go, retryAPI, retryTransient and attach), so a job that only
// waits has its reason in the log.
func (d *Driver) throttled(retryAfter time.Duration) {
	d.throttledSeen.Store(true)
	after := ""
	if retryAfter > 0 {
		after = ", retry after " + retryAfter.String()
	}
	d.Log.Warn().Msgf("the API server is throttling k8sdrv (429%s): waiting", after)
}

// LoadJob reads the job gitlab-runner describes (CUSTOM_ENV_*,
// JOB_RESPONSE_FILE) and checks it against the operator's rules
// (config.ForJob). It always returns a configuration to clean up with: on
// a refusal (a *config.JobError) the operator's own with the job. When the
// job response cannot be read, the job is what CUSTOM_ENV_* says of it,
// checked as well: its identity and overwrite variables still tell cleanup
// where its pods are and by which labels.
func (d *Driver) LoadJob(cfg *config.Config) (*config.JobConfig, error) {
	j, err := job.Load(d.Environ, d.Env.JobResponseFile)
	jc, checkErr := config.ForJob(cfg, j, os.Getenv)
	if err != nil {
		return jc, err
	}
	d.Secrets.Hide(j)
	return jc, checkErr
}

// identity is the job's identity, read from CUSTOM_ENV_* alone, so that
// run can check a state file without reading the job.
func (d *Driver) identity() job.Identity {
	return job.IdentityFrom(d.Environ)
}

// WithoutJob is the configuration of a stage that does not read the job:
// the operator's, as it is.
func WithoutJob(cfg *config.Config) *config.JobConfig {
	return &config.JobConfig{Config: cfg, Job: &job.Job{}}
}

// Refused reports whether err holds a job's request that the operator's
// settings refuse (a *config.JobError).
func Refused(err error) bool {
	var jobErr *config.JobError
	return errors.As(err, &jobErr)
}

// NewLogger returns the logger of every line k8sdrv itself prints: no
// timestamps (the runner adds its own), info lines plain and the others
// marked as GitLab Runner marks its own ("WARNING: ..."). Debug lines show
// only with debug. Lines are coloured only once style says so (see
// LogStyle).
func NewLogger(w io.Writer, debug bool) zerolog.Logger {
	return NewStyledLogger(w, debug, &LogStyle{})
}

// LogStyle is how k8sdrv's lines look. The command line sets Colour once it
// knows the command: the stages whose output reaches the job log are
// coloured as GitLab Runner colours its own lines there; cleanup (whose
// output goes to the runner's own log), gc and doctor are not.
type LogStyle struct{ Colour bool }

// The escape sequences of GitLab Runner's job log: warnings yellow, errors
// bold red, a highlighted line (the one that sums up prepare) bold green,
// each ended by a reset; other lines plain.
const (
	ansiYellow    = "\x1b[0;33m"
	ansiBoldRed   = "\x1b[31;1m"
	ansiBoldGreen = "\x1b[32;1m"
	ansiReset     = "\x1b[0;m"
)

// highlightField marks an info line to be shown as GitLab Runner shows its
// section titles (bold green) in the job log: d.Log.Info().Bool(highlightField, true).
const highlightField = "k8sdrv_highlight"

// NewStyledLogger is NewLogger with the style read for every line.
func NewStyledLogger(w io.Writer, debug bool, style *LogStyle) zerolog.Logger {
	out := zerolog.ConsoleWriter{
		Out: w, NoColor: true,
		PartsOrder: []string{zerolog.MessageFieldName},
		FormatPrepare: func(evt map[string]any) error {
			highlight := evt[highlightField] == true
			delete(evt, highlightField)
			level, _ := evt[zerolog.LevelFieldName].(string)
			delete(evt, zerolog.LevelFieldName)
			msg, _ := evt[zerolog.MessageFieldName].(string)
			evt[zerolog.MessageFieldName] = styleLine(level, msg, highlight, style.Colour)
			return nil
		},
	}
	level := zerolog.InfoLevel
	if debug {
		level = zerolog.DebugLevel
	}
	return zerolog.New(out).Level(level)
}

// styleLine is one line of k8sdrv's: its level's mark, and with colour the
// job log's escape sequences around it.
func styleLine(level, msg string, highlight, colour bool) string {
	mark, start := "", ""
	switch level {
	case zerolog.LevelInfoValue:
		if highlight {
			start = ansiBoldGreen
		}
	case zerolog.LevelWarnValue:
		mark, start = "WARNING: ", ansiYellow
	case zerolog.LevelErrorValue, zerolog.LevelFatalValue, zerolog.LevelPanicValue:
		mark, start = strings.ToUpper(level)+": ", ansiBoldRed
	default:
		mark = strings.ToUpper(level) + ": "
	}
	if !colour || start == "" {
		return mark + msg
	}
	return start + mark + msg + ansiReset
}

// clusterAccess connects on first use, with the configuration of the
// stage's job; one process serves one stage of one job.
func (d *Driver) clusterAccess(cfg *config.Config) (Cluster, error) {
	d.once.Do(func() {
		d.cluster, d.err = d.Connect(cfg)
		if d.err != nil {
			d.err = fmt.Errorf("connect to Kubernetes: %w", d.err)
		}
	})
	return d.cluster, d.err
}
