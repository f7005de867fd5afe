package examples

import (
	"testing"

	"github.com/BurntSushi/toml"
	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/config"
)

// TestExampleK8sdrvConfigLoads: the example operator config is valid.
func TestExampleK8sdrvConfigLoads(t *testing.T) {
	cfg, err := config.Load("k8sdrv.toml")
	assert.NilError(t, err)
	assert.Equal(t, cfg.Namespace, "gitlab-ci")
}

// TestExampleRunnerConfigCallsEveryStage: the runner config wires all four
// subcommands through the same k8sdrv config.
func TestExampleRunnerConfigCallsEveryStage(t *testing.T) {
	var runner struct {
		Runners []struct {
			Executor string
			Custom   map[string]any `toml:"custom"`
		} `toml:"runners"`
	}
	_, err := toml.DecodeFile("config.toml", &runner)
	assert.NilError(t, err)
	assert.Equal(t, runner.Runners[0].Executor, "custom")
	for _, stage := range []string{"config", "prepare", "run", "cleanup"} {
		args, _ := runner.Runners[0].Custom[stage+"_args"].([]any)
		assert.Equal(t, args[len(args)-1], stage)
		assert.Equal(t, runner.Runners[0].Custom[stage+"_exec"], "/usr/local/bin/k8sdrv")
	}
}
