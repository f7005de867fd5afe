// Command execfloor is make bench's floor for a stage from a new process:
// it loads a kubeconfig and runs one command in a container of a pod
// through the exec client k8sdrv uses (attach.PodExecutor), then exits
// with the command's success. It does no more than that, so that the
// difference between it and `k8sdrv run` is what k8sdrv adds to a stage,
// and the difference between it and one exec from a running process is
// the cost of a new process, which the Custom executor protocol gives
// every stage (e2e's BenchmarkRunEmptyFloorProcess).
//
//	execfloor -kubeconfig FILE -namespace NS -pod POD -container NAME -- COMMAND...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig file")
	namespace := flag.String("namespace", "", "the pod's namespace")
	pod := flag.String("pod", "", "the pod")
	container := flag.String("container", "build", "the container")
	flag.Parse()
	if err := run(*kubeconfig, *namespace, *pod, *container, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "execfloor:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, namespace, pod, container string, command []string) error {
	if len(command) == 0 {
		return fmt.Errorf("no command to run")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	core, err := kubeapi.NewRESTClient(rc)
	if err != nil {
		return err
	}
	exec := &attach.PodExecutor{Config: rc, Client: core, Namespace: namespace, Pod: pod}
	return exec.Exec(context.Background(), container, command, nil, io.Discard, os.Stderr)
}
