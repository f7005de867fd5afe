package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/rs/zerolog"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// Driver carries what every stage needs. The cluster connection is made
// lazily, on first use, so that config and dry runs never touch it.
type Driver struct {
	Config  *config.Config
	Env     RunnerEnv
	Environ []string
	Version string
	Stdout  io.Writer
	Stderr  io.Writer
	Log     zerolog.Logger
	// Connect builds the cluster access; tests replace it.
	Connect func() (*Cluster, error)

	once    sync.Once
	cluster *Cluster
	err     error

	jobOnce   sync.Once
	jobConfig *config.Config
	job       *job.Job
	jobErr    error
}

// New returns a Driver that connects with the operator's configuration.
func New(cfg *config.Config, env RunnerEnv, environ []string, version string, stdout, stderr io.Writer) *Driver {
	d := &Driver{
		Config: cfg, Env: env, Environ: environ, Version: version,
		Stdout: stdout, Stderr: stderr,
		Log: NewLogger(stderr),
	}
	d.Connect = func() (*Cluster, error) {
		if !cfg.BearerTokenOverwriteAllowed {
			return Connect(cfg, "k8sdrv/"+version)
		}
		// The job may bring its own bearer token: read the job for it.
		jobCfg, _, err := d.forJob()
		if err != nil && !refused(err) {
			return nil, err
		}
		return Connect(jobCfg, "k8sdrv/"+version)
	}
	return d
}

// forJob reads the job once and returns it with the configuration for it:
// the operator's, with the job's overwrite variables applied where allowed.
// When the settings refuse a variable (a *config.JobError), the operator's
// configuration comes with the error: prepare fails on it, cleanup still
// cleans up with it.
func (d *Driver) forJob() (*config.Config, *job.Job, error) {
	d.jobOnce.Do(func() {
		d.job, d.jobErr = job.Load(d.Environ, d.Env.JobResponseFile)
		if d.jobErr == nil {
			d.jobConfig, d.jobErr = d.Config.ForJob(d.job.Variables, os.Getenv)
		}
		if refused(d.jobErr) {
			d.jobConfig = d.Config
		}
	})
	return d.jobConfig, d.job, d.jobErr
}

func refused(err error) bool {
	var jobErr *config.JobError
	return errors.As(err, &jobErr)
}

// NewLogger returns the job-log logger: plain lines, no timestamps (the
// runner adds its own), no colours.
func NewLogger(w io.Writer) zerolog.Logger {
	out := zerolog.ConsoleWriter{Out: w, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}
	return zerolog.New(out).Level(zerolog.InfoLevel)
}

func (d *Driver) clusterAccess() (*Cluster, error) {
	d.once.Do(func() {
		d.cluster, d.err = d.Connect()
		if d.err != nil {
			d.err = fmt.Errorf("connect to Kubernetes: %w", d.err)
		}
	})
	return d.cluster, d.err
}

// Scrub hides the job's masked variable values in err's message (an API
// error may echo a label or annotation built from one), keeping err's
// type for ExitCode.
func (d *Driver) Scrub(err error) error {
	if err == nil || d.job == nil || len(d.job.Masked) == 0 {
		return err
	}
	msg := d.job.Scrub(err.Error())
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
