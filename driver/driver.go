package driver

import (
	"fmt"
	"io"
	"sync"

	"github.com/rs/zerolog"

	"github.com/k8sdrv/k8sdrv/driver/config"
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
}

// New returns a Driver that connects with the operator's configuration.
func New(cfg *config.Config, env RunnerEnv, environ []string, version string, stdout, stderr io.Writer) *Driver {
	d := &Driver{
		Config: cfg, Env: env, Environ: environ, Version: version,
		Stdout: stdout, Stderr: stderr,
		Log: NewLogger(stderr),
	}
	d.Connect = func() (*Cluster, error) { return Connect(cfg, "k8sdrv/"+version) }
	return d
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
