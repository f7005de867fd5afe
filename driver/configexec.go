package driver

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// configOutput is what config_exec prints for gitlab-runner.
type configOutput struct {
	BuildsDir         string     `json:"builds_dir"`
	CacheDir          string     `json:"cache_dir"`
	BuildsDirIsShared bool       `json:"builds_dir_is_shared"`
	Hostname          string     `json:"hostname,omitempty"`
	Driver            driverInfo `json:"driver"`
	Shell             string     `json:"shell"`
}

type driverInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ConfigStage prints the config_exec JSON on stdout: the in-pod builds and
// cache directories, whether concurrent jobs share the builds directory
// (so the runner gives each its own sub-directory), and bash, the shell
// the stage scripts are written for.
//
// It builds the pod of a job without input first, so that a problem of
// the operator's pod settings (a pod_spec patch, say) fails here, before
// the runner prepares anything.
func (d *Driver) ConfigStage(cfg *config.Config) error {
	if _, err := podbuilder.Build(WithoutJob(cfg)); err != nil {
		return fmt.Errorf("build pod: %w", err)
	}
	host, _ := os.Hostname()
	return json.NewEncoder(d.Stdout).Encode(configOutput{
		BuildsDir:         cfg.BuildsDir,
		CacheDir:          cfg.CacheDir,
		BuildsDirIsShared: cfg.BuildsDirIsShared(),
		Hostname:          host,
		Driver:            driverInfo{Name: "k8sdrv", Version: d.Version},
		Shell:             "bash",
	})
}
