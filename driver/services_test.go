package driver

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/scripts"
)

// execFunc is an attach.Executor made of a function.
type execFunc func(ctx context.Context, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error

func (f execFunc) Exec(ctx context.Context, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return f(ctx, container, cmd, stdin, stdout, stderr)
}

// dbService is a job service that waits on its HEALTHCHECK_TCP_PORT.
const dbService = `{"name": "postgres:16", "alias": "db", "variables": [{"key": "HEALTHCHECK_TCP_PORT", "value": "5432"}]}`

// withServices gives d a job response with these services (JSON objects)
// and the exec through which the port check runs; it counts the execs.
func (d *testDriver) withServices(t *testing.T, exec execFunc, services ...string) *atomic.Int32 {
	t.Helper()
	response := filepath.Join(t.TempDir(), "response.json")
	body := `{"services": [` + strings.Join(services, ",") + `]}`
	assert.NilError(t, os.WriteFile(response, []byte(body), 0o600))
	d.Env.JobResponseFile = response
	var execs atomic.Int32
	var counted execFunc
	if exec != nil {
		counted = func(ctx context.Context, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
			execs.Add(1)
			assert.Check(t, is.Equal(container, "helper"))
			assert.Check(t, is.Equal(cmd[2], scripts.WaitPorts))
			return exec(ctx, container, cmd, stdin, stdout, stderr)
		}
	}
	d.Connect = func(*config.Config) (Cluster, error) {
		c := fakeCluster{Clientset: d.client, t: t}
		if counted != nil {
			c.exec = counted
		}
		return c, nil
	}
	return &execs
}

// runPodThen makes the pod's one watch show every container running, then
// each change that later sends, on the same watch.
func (d *testDriver) runPodThen(later <-chan func(*corev1.Pod)) {
	var watches atomic.Int32
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		if watches.Add(1) > 1 {
			return true, watch.NewFake(), nil // a second watch sees nothing
		}
		w := watch.NewFake()
		go func() {
			// prepare opens the watch while it creates the pod.
			var list *corev1.PodList
			for range 5000 {
				if list, _ = d.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); len(list.Items) > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			pod := list.Items[0].DeepCopy()
			pod.Status.Phase = corev1.PodRunning
			for _, c := range pod.Spec.Containers {
				pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, running(c.Name))
			}
			w.Modify(pod)
			for change := range later {
				pod = pod.DeepCopy()
				change(pod)
				w.Modify(pod)
			}
		}()
		return true, w, nil
	})
}

// portsListen is the port check reporting every port it was given.
func portsListen(_ context.Context, _ string, cmd []string, _ io.Reader, _, stderr io.Writer) error {
	for _, port := range cmd[5:] {
		_, _ = io.WriteString(stderr, scripts.ReadyLine+" "+port+"\n")
	}
	return nil
}

// portsNeverListen is the port check waiting until k8sdrv gives up.
func portsNeverListen(ctx context.Context, _ string, _ []string, _ io.Reader, _, _ io.Writer) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestPrepareWaitsForServicesToListen(t *testing.T) {
	d := newTestDriver(t)
	var args []string
	execs := d.withServices(t, func(ctx context.Context, c string, cmd []string, in io.Reader, out, errOut io.Writer) error {
		args = cmd[3:]
		return portsListen(ctx, c, cmd, in, out, errOut)
	}, `{"name": "redis:7"}`, dbService, `{"name": "web:1", "ports": [{"number": 80}, {"number": 443}]}`)
	d.runPodThen(nil)
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, execs.Load(), int32(1))
	assert.DeepEqual(t, args[2:], []string{"5432", "80", "443"}) // after the name and the limit
	assert.Check(t, is.Regexp(`(?m)^Services listening after [0-9.]+s: .*db \(postgres:16\) on port 5432 after [0-9.]+s`, d.stderr.String()))
	assert.Check(t, is.Contains(d.stderr.String(), "web:1 on ports 80, 443 after "))
	assert.Check(t, !strings.Contains(d.stderr.String(), "redis"), "a service without ports is not waited for")
}

func TestPrepareDoesNotWaitForServicesWithoutPortsOrWhenOff(t *testing.T) {
	for name, setup := range map[string]func(d *testDriver) []string{
		"no ports": func(*testDriver) []string { return []string{`{"name": "redis:7"}`} },
		"off": func(d *testDriver) []string {
			d.cfg.WaitForServicesTimeout = -1
			return []string{dbService}
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newTestDriver(t)
			d.withServices(t, nil, setup(d)...) // an exec fails the test
			d.runPodThen(nil)
			assert.NilError(t, d.prepare(context.Background()))
			assert.Check(t, !strings.Contains(d.stderr.String(), "Services listening"))
		})
	}
}

// TestPrepareFailsWhenAServiceEnds: a service that terminates while
// k8sdrv waits for it fails the job at once, with its exit code, reason
// and last log lines, as the job's own failure; the pod is deleted.
func TestPrepareFailsWhenAServiceEnds(t *testing.T) {
	d := newTestDriver(t)
	started := make(chan struct{})
	execs := d.withServices(t, func(ctx context.Context, c string, cmd []string, in io.Reader, out, errOut io.Writer) error {
		close(started)
		return portsNeverListen(ctx, c, cmd, in, out, errOut)
	}, dbService)
	later := make(chan func(*corev1.Pod), 1)
	d.runPodThen(later)
	go func() {
		<-started
		later <- func(pod *corev1.Pod) {
			pod.Status.ContainerStatuses[2].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}
		}
	}()
	err := d.prepare(context.Background())
	assert.Error(t, err, "service db (postgres:16) failed before the job's stages could start: container svc-0 terminated: exit code 3, reason Error")
	assert.Equal(t, ExitCode(err, d.Env, d.Log), 1)
	assert.Equal(t, execs.Load(), int32(1))
	assert.Check(t, is.Contains(d.stderr.String(), "Last lines of service db (postgres:16) (container svc-0):\n  fake logs\n"))
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// TestPrepareFailsWhenAServiceExitsBeforeThePodRuns: the same before
// every container runs, from the pod's first status.
func TestPrepareFailsWhenAServiceExitsBeforeThePodRuns(t *testing.T) {
	d := newTestDriver(t)
	d.withServices(t, nil, dbService)
	exited := corev1.ContainerStatus{Name: "svc-0", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}
	d.setStatusWhenCreated(t, running("build"), running("helper"), exited)
	err := d.prepare(context.Background())
	assert.Error(t, err, "service db (postgres:16) failed before the job's stages could start: container svc-0 terminated: exit code 1, reason Error")
	assert.Equal(t, ExitCode(err, d.Env, d.Log), 1)
	assert.Check(t, is.Contains(d.stderr.String(), "  fake logs\n"))
}

// TestPrepareFailsAConfiguredServiceAsASystemFailure: a service of the
// operator's [[services]] is the operator's to fix.
func TestPrepareFailsAConfiguredServiceAsASystemFailure(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.Services = []config.Service{{Name: "docker:dind", Alias: "docker"}}
	d.withServices(t, nil)
	exited := corev1.ContainerStatus{Name: "svc-0", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}
	d.setStatusWhenCreated(t, running("build"), running("helper"), exited)
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, "service docker (docker:dind) failed before the job's stages could start")
	assert.Equal(t, ExitCode(err, d.Env, d.Log), 2)
}

func TestPrepareFailsWhenServicesDoNotListenInTime(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.WaitForServicesTimeout = 1
	d.withServices(t, portsNeverListen, dbService)
	d.runPodThen(nil)
	err := d.prepare(context.Background())
	assert.Error(t, err, "service db (postgres:16) did not listen on port 5432 within wait_for_services_timeout (1s)")
	assert.Equal(t, ExitCode(err, d.Env, d.Log), 1)
	assert.Check(t, is.Contains(d.stderr.String(), "Last lines of service db (postgres:16) (container svc-0):\n  fake logs\n"))
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// TestPrepareFailsWhenThePortCheckCannotRun: the check's own trouble is
// a system failure, never the services' fault.
func TestPrepareFailsWhenThePortCheckCannotRun(t *testing.T) {
	t.Run("the script cannot read the socket tables", func(t *testing.T) {
		d := newTestDriver(t)
		d.withServices(t, func(_ context.Context, _ string, _ []string, _ io.Reader, _, stderr io.Writer) error {
			_, _ = io.WriteString(stderr, scripts.ErrorLine+" cannot read /proc/net/tcp")
			return nil
		}, dbService)
		d.runPodThen(nil)
		err := d.prepare(context.Background())
		assert.Error(t, err, "cannot check whether the services listen: cannot read /proc/net/tcp")
		assert.Equal(t, ExitCode(err, d.Env, d.Log), 2)
	})
	t.Run("exec refused", func(t *testing.T) {
		d := newTestDriver(t)
		d.cfg.WaitForServicesTimeout = 1
		d.withServices(t, func(context.Context, string, []string, io.Reader, io.Writer, io.Writer) error {
			return apierrors.NewForbidden(podsResource, "p", errors.New("no exec"))
		}, dbService)
		d.runPodThen(nil)
		err := d.prepare(context.Background())
		assert.ErrorContains(t, err, "cannot check whether the services listen: exec in container helper: ")
		assert.ErrorContains(t, err, "no exec")
		assert.Equal(t, ExitCode(err, d.Env, d.Log), 2)
	})
}

// TestPortProbeStartsAgainForTheMissingPorts: a stream that breaks after
// one port listened is started again for the other alone.
func TestPortProbeStartsAgainForTheMissingPorts(t *testing.T) {
	var calls [][]string
	probe := newPortProbe(execFunc(func(_ context.Context, _ string, cmd []string, _ io.Reader, _, stderr io.Writer) error {
		calls = append(calls, cmd[5:])
		_, _ = io.WriteString(stderr, scripts.ReadyLine+" "+cmd[5]+"\n")
		if len(cmd) > 6 {
			return errors.New("stream reset")
		}
		return nil
	}), time.Now())
	assert.NilError(t, probe.run(context.Background(), []int{5432, 6379}))
	assert.DeepEqual(t, calls, [][]string{{"5432", "6379"}, {"6379"}})
}
