package driver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

var podsResource = schema.GroupResource{Resource: "pods"}

// testDriver is a Driver on client-go's fake clientset, with the job's
// environment of a runner and a TMPDIR of its own. Its stage methods load
// the job and hide masked values as the command line does.
type testDriver struct {
	*Driver
	cfg    *config.Config
	client *fake.Clientset
	stderr *bytes.Buffer
}

func newTestDriver(t *testing.T) *testDriver {
	t.Helper()
	cfg, err := config.Load("")
	assert.NilError(t, err)
	cfg.PollTimeout = 5
	client := fake.NewClientset()
	// The fake tracker does not implement generateName.
	var seq atomic.Int64
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pod := action.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, seq.Add(1))
		}
		if pod.UID == "" {
			pod.UID = types.UID("uid-" + pod.Name[len(pod.Name)-5:])
		}
		return false, nil, nil
	})
	env := RunnerEnv{TmpDir: t.TempDir(), BuildFailureExitCode: 1, SystemFailureExitCode: 2}
	environ := []string{"CUSTOM_ENV_CI_JOB_ID=42", "CUSTOM_ENV_CI_PROJECT_ID=7", "CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=tok", "CUSTOM_ENV_CI_CONCURRENT_ID=0"}
	var stdout, stderr bytes.Buffer
	d := New(env, environ, "test", &stdout, &stderr)
	d.Connect = func(*config.Config) (Cluster, error) { return fakeCluster{Clientset: client, t: t}, nil }
	return &testDriver{Driver: d, cfg: cfg, client: client, stderr: &stderr}
}

func (d *testDriver) prepare(ctx context.Context) error {
	jc, err := d.LoadJob(d.cfg)
	if err == nil {
		err = d.Prepare(ctx, jc)
	}
	return Scrub(err, jc.Job)
}

func (d *testDriver) dryRun() error {
	jc, err := d.LoadJob(d.cfg)
	if err != nil {
		return err
	}
	return d.DryRun(jc)
}

func (d *testDriver) run(ctx context.Context, script, stage string) error {
	return d.Run(ctx, WithoutJob(d.cfg), script, stage)
}

func (d *testDriver) cleanup() error {
	jc, jobErr := d.LoadJob(d.cfg)
	return Scrub(d.Cleanup(jc, jobErr), jc.Job)
}

// fakeCluster is Cluster on client-go's fake clientset; an exec fails
// the test unless exec is set.
type fakeCluster struct {
	*fake.Clientset
	t    *testing.T
	exec attach.Executor
}

func (f fakeCluster) Pods(ns string) kubeapi.Pods     { return f.CoreV1().Pods(ns) }
func (f fakeCluster) Events(ns string) kubeapi.Events { return f.CoreV1().Events(ns) }
func (f fakeCluster) Nodes() kubeapi.Nodes            { return f.CoreV1().Nodes() }
func (f fakeCluster) Namespaces() kubeapi.Namespaces  { return f.CoreV1().Namespaces() }
func (f fakeCluster) DisruptionBudgets(ns string) kubeapi.DisruptionBudgets {
	return f.PolicyV1().PodDisruptionBudgets(ns)
}

func (f fakeCluster) ServiceAccountExists(ctx context.Context, ns, name string) (bool, error) {
	return found(f.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{}))
}

func (f fakeCluster) SecretExists(ctx context.Context, ns, name string) (bool, error) {
	return found(f.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}))
}

func (f fakeCluster) ServerVersion(context.Context) (*version.Info, error) {
	return f.Discovery().ServerVersion()
}

func (f fakeCluster) AccessReviews() kubeapi.AccessReviews {
	return f.AuthorizationV1().SelfSubjectAccessReviews()
}

func (f fakeCluster) SelfReviews() kubeapi.SelfReviews {
	return f.AuthenticationV1().SelfSubjectReviews()
}

func (f fakeCluster) Executor(string, string) attach.Executor {
	if f.exec == nil {
		f.t.Fatal("unexpected exec")
	}
	return f.exec
}

func (f fakeCluster) PodLogs(ctx context.Context, ns, pod string, opts *corev1.PodLogOptions) ([]byte, error) {
	return f.CoreV1().Pods(ns).GetLogs(pod, opts).DoRaw(ctx)
}

// found turns a Get's result into existence: NotFound is false, not an error.
func found[T any](_ T, err error) (bool, error) {
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (d *testDriver) podNames(t *testing.T) []string {
	list, err := d.client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	assert.NilError(t, err)
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// setStatus moves the job's pod to the given container states once it exists.
func (d *testDriver) setStatusWhenCreated(t *testing.T, statuses ...corev1.ContainerStatus) {
	d.changeWhenCreated(t, func(pod *corev1.Pod, _ int) {
		pod.Status.Phase = corev1.PodPending
		pod.Status.ContainerStatuses = statuses
	})
}

// changeWhenCreated answers a watch of a pod by name with one change of
// that pod (change gets it and the number of pods there are), as soon as
// it exists: prepare opens the watch while it creates the pod. The events
// of first, given the watched name, come before it.
func (d *testDriver) changeWhenCreated(t *testing.T, change func(pod *corev1.Pod, pods int), first ...func(name string) watch.Event) {
	d.client.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		name, ok := action.(k8stesting.WatchAction).GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
		assert.Assert(t, ok, "a watch of the job's pod names it")
		w := watch.NewRaceFreeFake() // prepare may stop it first: a create that failed
		for _, event := range first {
			e := event(name)
			w.Action(e.Type, e.Object)
		}
		go func() {
			for range 5000 {
				list, _ := d.client.CoreV1().Pods(action.GetNamespace()).List(context.Background(), metav1.ListOptions{})
				for _, p := range list.Items {
					if p.Name == name {
						pod := p.DeepCopy()
						change(pod, len(list.Items))
						w.Modify(pod)
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		return true, w, nil
	})
}

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "details"}}}
}

func (d *testDriver) createJobPod(t *testing.T, name, jobID string) {
	t.Helper()
	_, err := d.client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", UID: types.UID("uid-" + name),
		Labels: map[string]string{"app.kubernetes.io/managed-by": "k8sdrv", "k8sdrv.io/job-id": jobID,
			"k8sdrv.io/project-id": "7", "k8sdrv.io/runner": "tok", "k8sdrv.io/concurrent-id": "0"},
	}}, metav1.CreateOptions{})
	assert.NilError(t, err)
}

func (d *testDriver) writeState(t *testing.T, text string) {
	t.Helper()
	assert.NilError(t, os.WriteFile(statePath(d.Env.TmpDir), []byte(text), 0o600))
}
