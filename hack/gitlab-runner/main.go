// Command gitlab-runner is gitlab-runner's own CLI reduced to what k8sdrv's
// e2e suite needs: `run-single` with the custom executor or the built-in
// kubernetes executor (which the benchmarks compare with k8sdrv), `run` (the
// long-running service, as examples/deploy starts it in a cluster), and the
// helper commands the kubernetes executor runs in its helper container. It is
// built from the unmodified gitlab-runner module; only its main package, which
// links every executor (and with them modules the Go module proxy here does
// not serve), is replaced by this file. See stubs/README.md for the rest.
package main

import (
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"gitlab.com/gitlab-org/gitlab-runner/commands"
	"gitlab.com/gitlab-org/gitlab-runner/commands/helpers"
	"gitlab.com/gitlab-org/gitlab-runner/common"
	"gitlab.com/gitlab-org/gitlab-runner/executors"
	"gitlab.com/gitlab-org/gitlab-runner/executors/custom"
	"gitlab.com/gitlab-org/gitlab-runner/executors/kubernetes"
	"gitlab.com/gitlab-org/gitlab-runner/log"
	"gitlab.com/gitlab-org/gitlab-runner/network"
	"gitlab.com/gitlab-org/gitlab-runner/router"
	_ "gitlab.com/gitlab-org/gitlab-runner/shells"
)

func main() {
	providers := executors.NewProviderRegistry(map[string]common.ExecutorProvider{
		"custom":     custom.NewProvider("gitlab-runner"),
		"kubernetes": kubernetes.NewProvider(),
	})

	certDir := commands.GetDefaultCertificateDirectory()
	requests := network.NewAPIRequestsCollector()
	gitlab := network.NewGitLabClient(
		network.WithAPIRequestsCollector(requests),
		network.WithCertificateDirectory(certDir),
		network.WithExecutorProviderFunc(providers.GetByName),
	)
	client := router.NewClient(gitlab, certDir, common.AppVersion.UserAgent())
	defer client.Shutdown()

	app := cli.NewApp()
	app.Name = filepath.Base(os.Args[0])
	app.Usage = "a GitLab Runner (k8sdrv e2e build: run, run-single, custom executor)"
	app.Version = common.AppVersion.ShortLine()
	cli.VersionPrinter = common.AppVersion.Printer
	app.Commands = []cli.Command{
		commands.NewRunCommand(client, requests, providers),
		commands.NewRunSingleCommand(client, providers),
		commands.NewVerifyCommand(client),
		// What the built-in Kubernetes executor runs in its helper
		// container as gitlab-runner-helper: read-logs streams a stage's
		// log, health-check waits for a service's port.
		helpers.NewReadLogsCommand(),
		helpers.NewHealthCheckCommand(),
	}
	log.ConfigureLogging(app)
	if err := app.Run(os.Args); err != nil {
		logrus.Fatal(err)
	}
}
