package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// Check is one line of `k8sdrv doctor`'s report: what was checked, whether
// it is fine, what was found and, where something is wrong, what to do.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// DoctorOptions say what `k8sdrv doctor` checks besides the defaults and
// how it reports.
type DoctorOptions struct {
	// ConfigPath is the file the configuration came from ("" for none).
	ConfigPath string
	// PullCheck starts a short-lived pod per image to see that it pulls.
	PullCheck bool
	// Runner labels the probe pods with a runner's short token, so that
	// that runner's `k8sdrv gc` finds them should doctor be killed.
	Runner string
	// JSON prints the checks as one JSON array instead of lines.
	JSON bool
}

// ErrDoctorFailed is Doctor's error when a check failed; the report has
// said which, so the command line prints nothing more.
var ErrDoctorFailed = errors.New("doctor: a check failed")

// Doctor checks a setup, one line per check on stdout: the configuration
// (loadErr is config.Load's error, all its problems), then, with cfg, the
// API server, every permission k8sdrv's code uses, the objects the
// configuration names, a dry run of the job pod, the nodes' architecture
// and, with PullCheck, that the images pull. Checks that need what an
// earlier one found missing are left out. It returns ErrDoctorFailed when
// any check failed.
func (d *Driver) Doctor(ctx context.Context, cfg *config.Config, loadErr error, o DoctorOptions) error {
	checks := configChecks(cfg, loadErr, o.ConfigPath)
	if allOK(checks) {
		checks = append(checks, d.clusterChecks(ctx, cfg, o)...)
	}
	if err := d.report(checks, o.JSON); err != nil {
		return err
	}
	if !allOK(checks) {
		return ErrDoctorFailed
	}
	return nil
}

// clusterChecks are the checks that need the API server, in order; they
// stop where the server cannot be reached.
func (d *Driver) clusterChecks(ctx context.Context, cfg *config.Config, o DoctorOptions) []Check {
	cluster, err := d.clusterAccess(cfg)
	if err != nil {
		return []Check{failed("api server", err.Error(),
			"set host (with ca_file and bearer_token or cert_file and key_file), or context, in the k8sdrv config, or provide a kubeconfig")}
	}
	server, who := apiServerCheck(ctx, cluster)
	checks := []Check{server}
	if !server.OK {
		return checks
	}
	checks = append(checks, permissionChecks(ctx, cluster, cfg, who)...)
	checks = append(checks, objectChecks(ctx, cluster, cfg)...)
	checks = append(checks, d.dryRunCheck(ctx, cluster, cfg), architectureCheck(ctx, cluster, cfg))
	if o.PullCheck {
		checks = append(checks, d.pullChecks(ctx, cluster, cfg, o.Runner)...)
	}
	return checks
}

// configChecks report every problem of the configuration, one check each,
// or one check that it loads and builds a pod.
func configChecks(cfg *config.Config, loadErr error, path string) []Check {
	source := path
	if source == "" {
		source = "no file (defaults and K8SDRV_* variables)"
	}
	const fix = "correct the key the line names (k8sdrv refuses every stage with this configuration)"
	if loadErr != nil {
		var checks []Check
		for line := range strings.Lines(loadErr.Error()) {
			if line = strings.TrimSpace(line); line != "" {
				checks = append(checks, failed("config", line, fix))
			}
		}
		return checks
	}
	if _, err := podbuilder.Build(WithoutJob(cfg)); err != nil {
		return []Check{failed("config", source+": build pod: "+err.Error(), fix)}
	}
	detail := source + ": valid"
	if len(cfg.Warnings) > 0 {
		detail += "; warnings: " + strings.Join(cfg.Warnings, "; ")
	}
	return []Check{passed("config", detail)}
}

// report prints the checks as lines or as JSON.
func (d *Driver) report(checks []Check, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(d.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(checks)
	}
	for _, c := range checks {
		if _, err := fmt.Fprintln(d.Stdout, c.line()); err != nil {
			return err
		}
	}
	return nil
}

// line is the check as one line: "ok    name: detail" or
// "FAIL  name: detail; fix: what to do".
func (c Check) line() string {
	status := "ok  "
	if !c.OK {
		status = "FAIL"
	}
	s := status + "  " + c.Name
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	if c.Fix != "" {
		s += "; fix: " + c.Fix
	}
	return s
}

func failed(name, detail, fix string) Check {
	return Check{Name: name, Detail: detail, Fix: fix}
}

func passed(name, detail string) Check {
	return Check{Name: name, OK: true, Detail: detail}
}

func allOK(checks []Check) bool {
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return true
}
