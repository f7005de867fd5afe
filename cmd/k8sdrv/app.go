package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"k8s.io/klog/v2"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/driver"
)

// run executes the command line and returns the process exit code; exit
// codes are decided only here, by driver.ExitCode.
func run(args, environ []string, stdout, stderr io.Writer) int {
	debug := os.Getenv("K8SDRV_DEBUG") != ""
	quietClientGo(debug)
	// Every line k8sdrv prints goes through one writer, which hides the
	// job's masked values once a stage has read the job.
	secrets := driver.NewScrubWriter(stderr)
	style := &driver.LogStyle{}
	log := driver.NewStyledLogger(secrets, debug, style)
	env, envErr := driver.LoadRunnerEnv()
	app := newApp(env, environ, stdout, secrets, log)
	app.Before = func(c *cli.Context) error {
		style.Colour = jobLogColours(c.Args().First(), environ)
		return nil
	}
	err := envErr
	if err == nil {
		err = app.Run(args)
	}
	return driver.ExitCode(err, env, log)
}

// jobLogColours: the lines of the commands whose output gitlab-runner puts
// in the job log (config's stderr, prepare, run) are coloured as the
// runner colours its own, unless NO_COLOR is set (https://no-color.org).
// cleanup's output goes to the runner's own log, and gc, doctor and the
// rest are for a terminal or a log file: plain.
func jobLogColours(command string, environ []string) bool {
	for _, kv := range environ {
		if value, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && value != "" {
			return false
		}
	}
	return command == "config" || command == "prepare" || command == "run"
}

func newApp(env driver.RunnerEnv, environ []string, stdout io.Writer, stderr *driver.ScrubWriter, log zerolog.Logger) *cli.App {
	withDriver := driverAction(env, environ, stdout, stderr, log)
	commands := append(protocolCommands(withDriver),
		gcCommand(withDriver),
		versionCommand(),
		newCompletionCommand(),
		doctorCommand(env, environ, stdout, stderr, log),
	)
	return &cli.App{
		Name:      "k8sdrv",
		Writer:    stdout,
		ErrWriter: stderr,
		Usage:     "run GitLab CI jobs in Kubernetes pods (a GitLab Runner Custom executor)",
		Version:   version,
		Flags: []cli.Flag{&cli.StringFlag{
			Name:    "config",
			Aliases: []string{"c"},
			Usage:   "k8sdrv configuration file (TOML, the keys of [runners.kubernetes])",
			EnvVars: []string{"K8SDRV_CONFIG"},
		}},
		// Errors are printed and turned into exit codes by run, once.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       commands,
	}
}

// driverAction returns withDriver, which turns a stage into a CLI action:
// load the operator configuration, build the driver, run the stage, and
// hide the values of the job's masked variables in its error.
func driverAction(env driver.RunnerEnv, environ []string, stdout io.Writer, stderr *driver.ScrubWriter, log zerolog.Logger) func(stageFunc) cli.ActionFunc {
	return func(stage stageFunc) cli.ActionFunc {
		return func(c *cli.Context) error {
			cfg, err := config.Load(c.String("config"))
			if err != nil {
				return err
			}
			d := driver.New(env, environ, version, stdout, stderr)
			d.Log = log
			jc, err := stage(c, d, cfg)
			if jc != nil {
				err = driver.Scrub(err, jc.Job)
			}
			return err
		}
	}
}

// protocolCommands are the four calls of the Custom executor protocol.
func protocolCommands(withDriver func(stageFunc) cli.ActionFunc) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "config",
			Usage: "print the config_exec JSON for gitlab-runner",
			UsageText: "k8sdrv --config FILE config\n\n" +
				"Example (gitlab-runner's config_exec; it prints the builds and cache directories):\n" +
				"   k8sdrv --config /etc/k8sdrv/k8sdrv.toml config",
			Action: withDriver(configStage),
		},
		{
			Name:  "prepare",
			Usage: "create the job's pod and wait until it runs",
			UsageText: "k8sdrv --config FILE prepare [--dry-run]\n\n" +
				"Example (the pod of a job, as YAML, without a cluster):\n" +
				"   CUSTOM_ENV_CI_JOB_ID=1 CUSTOM_ENV_CI_JOB_IMAGE=alpine:3.20 k8sdrv --config k8sdrv.toml prepare --dry-run",
			Flags:  []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print the pod (and the job's namespace and pod disruption budget, when configured) as YAML; contact no cluster"}},
			Action: withDriver(prepare),
		},
		{
			Name:  "run",
			Usage: "run one stage script of the job in its pod",
			UsageText: "k8sdrv --config FILE run <script> <stage>\n\n" +
				"Example (after prepare, in the same $TMPDIR):\n" +
				"   k8sdrv --config /etc/k8sdrv/k8sdrv.toml run /tmp/script.sh build_script",
			ArgsUsage: "<script> <stage>",
			Action:    withDriver(runStage),
		},
		{
			Name:  "cleanup",
			Usage: "delete everything the job created",
			UsageText: "k8sdrv --config FILE cleanup\n\n" +
				"Example (gitlab-runner's cleanup_exec):\n" +
				"   k8sdrv --config /etc/k8sdrv/k8sdrv.toml cleanup",
			Action: withDriver(cleanup),
		},
	}
}

// versionCommand is `k8sdrv version`, the same as --version.
func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print k8sdrv's version, commit, Go and client-go versions, and platform",
		UsageText: "k8sdrv version\n\n" +
			"Example (the same as k8sdrv --version):\n" +
			"   k8sdrv version",
		Action: func(c *cli.Context) error {
			printVersion(c)
			return nil
		},
	}
}

// stageFunc runs one stage with the operator's configuration; it returns
// the job it read, if any, so that its masked values can be hidden.
type stageFunc func(*cli.Context, *driver.Driver, *config.Config) (*config.JobConfig, error)

func configStage(_ *cli.Context, d *driver.Driver, cfg *config.Config) (*config.JobConfig, error) {
	return nil, d.ConfigStage(cfg)
}

// prepare checks the job against the operator's rules before anything
// else: a refusal fails the job with nothing built or created.
func prepare(c *cli.Context, d *driver.Driver, cfg *config.Config) (*config.JobConfig, error) {
	jc, err := d.LoadJob(cfg)
	if err != nil {
		return jc, err
	}
	if c.Bool("dry-run") {
		return jc, d.DryRun(jc)
	}
	ctx, stop := signalContext()
	defer stop()
	return jc, d.Prepare(ctx, jc)
}

// runStage reads the job only when the operator lets it bring its own
// bearer token: every stage is a new process, and most need nothing of
// the job but the script gitlab-runner wrote.
func runStage(c *cli.Context, d *driver.Driver, cfg *config.Config) (*config.JobConfig, error) {
	if c.NArg() != 2 {
		return nil, fmt.Errorf("run: want <script> <stage>, got %d arguments", c.NArg())
	}
	jc := driver.WithoutJob(cfg)
	if cfg.BearerTokenOverwriteAllowed {
		var err error
		if jc, err = d.LoadJob(cfg); err != nil && !driver.Refused(err) {
			return jc, err
		}
	}
	ctx, stop := signalContext()
	defer stop()
	return jc, d.Run(ctx, jc, c.Args().Get(0), c.Args().Get(1))
}

// cleanup reads the job too, but needs it only when prepare's state file
// is missing or not this job's (see driver.Cleanup).
func cleanup(_ *cli.Context, d *driver.Driver, cfg *config.Config) (*config.JobConfig, error) {
	jc, jobErr := d.LoadJob(cfg)
	return jc, d.Cleanup(jc, jobErr)
}

// signalContext is cancelled by SIGTERM (gitlab-runner cancelling the job)
// or SIGINT (a person at a terminal).
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// quietClientGo keeps client-go's own log lines (about broken streams that
// k8sdrv reconnects anyway) out of the job log unless debugging is asked for.
func quietClientGo(debug bool) {
	if !debug {
		klog.SetLogger(logr.Discard())
	}
}

// gcCommand is `k8sdrv gc`: for cron or a CronJob beside the runner, it
// finds the pods of jobs that are over (a runner that crashed never called
// cleanup) and, with --delete, deletes them.
func gcCommand(withDriver func(stageFunc) cli.ActionFunc) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "find (and with --delete, delete) k8sdrv's pods whose job is over",
		UsageText: "k8sdrv --config FILE gc (--runner TOKEN | --all-runners) [--delete] [options]\n\n" +
			"Example (from cron every 10 minutes):\n" +
			"   k8sdrv --config /etc/k8sdrv/config.toml gc --runner $RUNNER_SHORT_TOKEN --delete",
		Description: "A pod is over when it has terminated, has outlived its activeDeadlineSeconds\n" +
			"(the job timeout) by --grace, or is older than --max-age. Only pods with k8sdrv's\n" +
			"labels and the runner's are looked at. With namespace_per_job in the configuration,\n" +
			"the jobs' own namespaces with those labels are collected too, once their pods are\n" +
			"over or, holding none, they are older than --grace.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "runner", Usage: "the runner's short token (CI_RUNNER_SHORT_TOKEN): only its pods"},
			&cli.BoolFlag{Name: "all-runners", Usage: "every runner's pods (k8sdrv's labels still required)"},
			&cli.StringSliceFlag{Name: "namespace", Usage: "namespace to look in (repeatable; default: the configured one)"},
			&cli.DurationFlag{Name: "grace", Value: 2 * time.Minute, Usage: "how long a pod may outlive its activeDeadlineSeconds"},
			&cli.DurationFlag{Name: "max-age", Usage: "also collect pods older than this (0: no age bound)"},
			&cli.BoolFlag{Name: "delete", Usage: "delete the pods found (default: only list them)"},
		},
		Action: withDriver(func(c *cli.Context, d *driver.Driver, cfg *config.Config) (*config.JobConfig, error) {
			ctx, stop := signalContext()
			defer stop()
			return nil, d.GC(ctx, cfg, driver.GCOptions{
				Namespaces: c.StringSlice("namespace"),
				Runner:     c.String("runner"),
				AllRunners: c.Bool("all-runners"),
				Grace:      c.Duration("grace"),
				MaxAge:     c.Duration("max-age"),
				Delete:     c.Bool("delete"),
				Now:        time.Now,
			})
		}),
	}
}

// doctorCommand is `k8sdrv doctor`: it checks a setup before the first job
// does, one line per check. A configuration that does not load is its
// first finding, not an error, so it loads the configuration itself.
func doctorCommand(env driver.RunnerEnv, environ []string, stdout io.Writer, stderr *driver.ScrubWriter, log zerolog.Logger) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check the configuration, the cluster, k8sdrv's permissions and the images; exit 1 if a check fails",
		Description: "One line per check (ok or FAIL, what, and for a failure what to fix): the configuration (every\n" +
			"problem), the API server (version, round trip), every permission k8sdrv's code uses in the namespace\n" +
			"(optional ones marked), the service account and image pull secrets, a server-side dry run of the job\n" +
			"pod, the nodes' architecture against the helper image's; with --pull-check also a short-lived pod per\n" +
			"image. Example, with the credentials the runner's k8sdrv uses:\n\n" +
			"   k8sdrv --config /etc/k8sdrv/config.toml doctor --pull-check",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "pull-check", Usage: "start a short-lived pod per image (helper and default) to see that it pulls, within poll_timeout"},
			&cli.StringFlag{Name: "runner", Usage: "label the probe pods with this runner's short token, so that its `k8sdrv gc` finds one doctor could not delete"},
			&cli.StringFlag{Name: "output", Value: "text", Usage: "text, or json: an array of {name, ok, detail, fix}"},
		},
		Action: func(c *cli.Context) error {
			output := c.String("output")
			if output != "text" && output != "json" {
				return fmt.Errorf("doctor: --output %q: want text or json", output)
			}
			path := c.String("config")
			cfg, loadErr := config.Load(path)
			d := driver.New(env, environ, version, stdout, stderr)
			d.Log = log
			ctx, stop := signalContext()
			defer stop()
			return d.Doctor(ctx, cfg, loadErr, driver.DoctorOptions{
				ConfigPath: path, PullCheck: c.Bool("pull-check"), Runner: c.String("runner"), JSON: output == "json",
			})
		},
	}
}
