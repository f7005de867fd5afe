// Command floor is make bench's floor for a k8sdrv call from a new
// process: it does the API operations of one call through the clients
// k8sdrv uses, and nothing else. The Custom executor protocol starts a
// process for every call (every stage), so the difference between floor
// and k8sdrv is what k8sdrv adds, and the difference between floor and the
// same operations from a running process is the cost of a new process
// (e2e's Benchmark*FloorProcess).
//
//	floor exec -kubeconfig FILE -namespace NS -pod POD [-container NAME] -- COMMAND...
//	    run COMMAND in the container (attach.PodExecutor); exit 1 if it fails
//	floor prepare -kubeconfig FILE -pod-file POD.json
//	    create the pod, watch it until its containers run, print its name
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: floor exec|prepare FLAGS"))
	}
	flags := flag.NewFlagSet("floor "+os.Args[1], flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", "", "the kubeconfig file")
	namespace := flags.String("namespace", "", "exec: the pod's namespace")
	pod := flags.String("pod", "", "exec: the pod")
	container := flags.String("container", "build", "exec: the container")
	podFile := flags.String("pod-file", "", "prepare: the pod to create, as JSON")
	_ = flags.Parse(os.Args[2:])
	rc, core, err := connect(*kubeconfig)
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "exec":
		exec := &attach.PodExecutor{Config: rc, Client: core, Namespace: *namespace, Pod: *pod}
		err = exec.Exec(context.Background(), *container, flags.Args(), nil, io.Discard, os.Stderr)
	case "prepare":
		err = prepare(core, *podFile)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}

func connect(kubeconfig string) (*rest.Config, rest.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	core, err := kubeapi.NewRESTClient(rc)
	return rc, core, err
}

// prepare creates the pod of file and watches it until its containers run.
func prepare(core rest.Interface, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var pod corev1.Pod
	if err := json.Unmarshal(data, &pod); err != nil {
		return err
	}
	ctx := context.Background()
	pods := kubeapi.PodClient{Client: core, Namespace: pod.Namespace}
	created, err := pods.Create(ctx, &pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", created.Name).String(),
		ResourceVersion: created.ResourceVersion,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && running(p) {
			fmt.Println(p.Name)
			return nil
		}
	}
	return errors.New("the watch ended before the pod ran")
}

// running: every container of p runs (as the benchmarks' allRunning).
func running(p *corev1.Pod) bool {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil {
			n++
		}
	}
	return n == len(p.Spec.Containers)
}
