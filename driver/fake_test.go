package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

var podsResource = schema.GroupResource{Resource: "pods"}

// testDriver is a Driver on client-go's fake clientset, with the job's
// environment of a runner and a TMPDIR of its own.
type testDriver struct {
	*Driver
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
			pod.UID = types.UID("uid-" + pod.Name[len(pod.Name)-5:])
		}
		return false, nil, nil
	})
	env := RunnerEnv{TmpDir: t.TempDir(), BuildFailureExitCode: 1, SystemFailureExitCode: 2}
	environ := []string{"CUSTOM_ENV_CI_JOB_ID=42", "CUSTOM_ENV_CI_PROJECT_ID=7", "CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=tok", "CUSTOM_ENV_CI_CONCURRENT_ID=0"}
	var stdout, stderr bytes.Buffer
	d := New(cfg, env, environ, "test", &stdout, &stderr)
	d.Connect = func() (*Cluster, error) {
		return &Cluster{
			Pods:   func(ns string) kubeapi.Pods { return client.CoreV1().Pods(ns) },
			Events: func(ns string) kubeapi.Events { return client.CoreV1().Events(ns) },
			Exists: func(ctx context.Context, ns, resource, name string) (bool, error) {
				var err error
				switch resource {
				case "serviceaccounts":
					_, err = client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
				case "secrets":
					_, err = client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
				default:
					t.Fatalf("unexpected resource %s", resource)
				}
				if apierrors.IsNotFound(err) {
					return false, nil
				}
				return err == nil, err
			},
			Executor: func(string, string) attach.Executor { t.Fatal("unexpected exec"); return nil },
		}, nil
	}
	return &testDriver{Driver: d, client: client, stderr: &stderr}
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
	d.client.PrependWatchReactor("pods", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		go func() {
			list, _ := d.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			pod := list.Items[0].DeepCopy()
			pod.Status.Phase = corev1.PodPending
			pod.Status.ContainerStatuses = statuses
			w.Modify(pod)
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

func TestPrepareWaitsUntilEveryContainerRuns(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.Prepare(context.Background()))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.DeepEqual(t, d.podNames(t), []string{state.Pod})
	assert.Equal(t, state.Namespace, "default")
}

func TestPrepareFailsFastAndDeletesThePod(t *testing.T) {
	for _, reason := range []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"} {
		t.Run(reason, func(t *testing.T) {
			d := newTestDriver(t)
			d.setStatusWhenCreated(t, running("helper"), waiting("build", reason))
			err := d.Prepare(context.Background())
			assert.ErrorContains(t, err, `container build (image "alpine:latest") cannot start: `+reason+": details")
			assert.DeepEqual(t, d.podNames(t), []string(nil))
		})
	}
}

func TestPrepareCreateErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{apierrors.NewForbidden(podsResource, "", errors.New("no RBAC")), "hint: k8sdrv's account lacks a permission"},
		{apierrors.NewUnauthorized("bad token"), "hint: the credentials"},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "default"), "hint: does the namespace exist?"},
		{apierrors.NewInternalError(errors.New("etcd down")), "etcd down"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			d := newTestDriver(t)
			d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			err := d.Prepare(context.Background())
			assert.ErrorContains(t, err, "create pod in namespace default: ")
			assert.ErrorContains(t, err, tc.want)
			_, statErr := os.Stat(statePath(d.Env.TmpDir))
			assert.Assert(t, os.IsNotExist(statErr), "no state without a pod")
		})
	}
}

func TestDryRunContactsNoCluster(t *testing.T) {
	d := newTestDriver(t)
	d.Connect = func() (*Cluster, error) { t.Fatal("dry run connected"); return nil, nil }
	var out bytes.Buffer
	d.Stdout = &out
	assert.NilError(t, d.DryRun())
	assert.Assert(t, bytes.Contains(out.Bytes(), []byte("generateName: runner-tok-project-7-concurrent-0-")))
}

func TestCleanupDeletesTheStatePod(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.Prepare(context.Background()))
	assert.NilError(t, d.Cleanup())
	assert.DeepEqual(t, d.podNames(t), []string(nil))
	_, err := os.Stat(statePath(d.Env.TmpDir))
	assert.Assert(t, os.IsNotExist(err))
}

func TestCleanupRetriesTransientErrorsAndTakesNotFoundAsSuccess(t *testing.T) {
	d := newTestDriver(t)
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Namespace: "default", Pod: "gone", UID: "u"}))
	calls := 0
	d.client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls < 3 {
			return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
		}
		return false, nil, nil // the tracker answers NotFound
	})
	assert.NilError(t, d.Cleanup())
	assert.Equal(t, calls, 3)
}

func TestCleanupGivesUpOnPermanentErrors(t *testing.T) {
	d := newTestDriver(t)
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Namespace: "default", Pod: "p", UID: "u"}))
	d.client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(podsResource, "p", errors.New("no RBAC"))
	})
	err := d.Cleanup()
	assert.ErrorContains(t, err, "delete pod default/p")
	assert.ErrorContains(t, err, "hint: k8sdrv's account lacks a permission")
}

func TestCleanupWithoutStateDeletesOnlyThisJobsPods(t *testing.T) {
	d := newTestDriver(t)
	pods := d.client.CoreV1().Pods("default")
	for name, job := range map[string]string{"mine": "42", "other-job": "43"} {
		_, err := pods.Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "k8sdrv", "k8sdrv.io/job-id": job,
				"k8sdrv.io/project-id": "7", "k8sdrv.io/runner": "tok", "k8sdrv.io/concurrent-id": "0"},
		}}, metav1.CreateOptions{})
		assert.NilError(t, err)
	}
	assert.NilError(t, d.Cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"other-job"})
}

func TestCleanupWithoutStateOrJobIDDoesNothing(t *testing.T) {
	d := newTestDriver(t)
	d.Environ = nil
	_, err := d.client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "someone-elses", Namespace: "default", Labels: map[string]string{"app.kubernetes.io/managed-by": "k8sdrv"},
	}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	assert.NilError(t, d.Cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"someone-elses"})
}

func TestCheckContainer(t *testing.T) {
	d := newTestDriver(t)
	cluster, err := d.clusterAccess()
	assert.NilError(t, err)
	state := &State{Namespace: "default", Pod: "p", UID: "u1"}
	ctx := context.Background()

	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "pod default/p was deleted")

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u2"}}
	_, err = d.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	assert.NilError(t, err)
	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "was replaced")

	state.UID = "u2"
	assert.NilError(t, checkContainer(ctx, cluster, state, "build"))

	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "build", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}
	_, err = d.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	assert.NilError(t, err)
	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "container build terminated while the stage ran: exit code 137, reason OOMKilled")
}

func TestRunWithoutStateIsASystemFailure(t *testing.T) {
	d := newTestDriver(t)
	script := filepath.Join(t.TempDir(), "s")
	assert.NilError(t, os.WriteFile(script, []byte("true"), 0o600))
	err := d.Run(context.Background(), script, "build_script")
	assert.ErrorContains(t, err, "prepare has not created a pod for this job")
	var build *BuildFailure
	assert.Assert(t, !errors.As(err, &build))
}

func TestStageContainer(t *testing.T) {
	for stage, want := range map[string]string{
		"build_script": "build", "after_script": "build", "step_release": "build",
		"prepare_script": "helper", "get_sources": "helper", "clear_worktree": "helper",
		"restore_cache": "helper", "download_artifacts": "helper", "archive_cache": "helper",
		"archive_cache_on_failure": "helper", "upload_artifacts_on_success": "helper",
		"upload_artifacts_on_failure": "helper", "cleanup_file_variables": "helper",
	} {
		assert.Equal(t, StageContainer(stage), want, stage)
	}
}

func TestPrepareCancelledWhileWaiting(t *testing.T) {
	d := newTestDriver(t)
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil // a pod that never changes
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := d.Prepare(ctx)
	assert.ErrorContains(t, err, "cancelled while waiting for pod default/runner-tok-project-7-concurrent-0-")
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

func TestPrepareTimesOutWithTheReason(t *testing.T) {
	d := newTestDriver(t)
	d.Config.PollTimeout = 1
	d.setStatusWhenCreated(t, waiting("build", "ContainerCreating"), running("helper"))
	err := d.Prepare(context.Background())
	assert.ErrorContains(t, err, "not running after poll_timeout (1s): status is Pending (build ContainerCreating)")
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

func TestCleanupUsesTheCleanupGracePeriod(t *testing.T) {
	d := newTestDriver(t)
	grace := int64(3)
	d.Config.CleanupGracePeriodSeconds = &grace
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Namespace: "default", Pod: "p", UID: "u"}))
	var got *int64
	d.client.PrependReactor("delete", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		got = action.(k8stesting.DeleteAction).GetDeleteOptions().GracePeriodSeconds
		return false, nil, nil
	})
	assert.NilError(t, d.Cleanup())
	assert.Assert(t, got != nil && *got == 3)
}

func TestPreparePrintsWarningEventsOfAPodThatCannotStart(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("helper"), waiting("build", "CreateContainerConfigError"))
	d.client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		pod, _ := loadState(d.Env.TmpDir)
		return true, &corev1.EventList{Items: []corev1.Event{
			{InvolvedObject: corev1.ObjectReference{Name: pod.Pod}, Type: corev1.EventTypeNormal, Reason: "Scheduled", Message: "fine"},
			{InvolvedObject: corev1.ObjectReference{Name: pod.Pod}, Type: corev1.EventTypeWarning, Reason: "Failed", Message: `secret "db" not found`},
		}}, nil
	})
	assert.ErrorContains(t, d.Prepare(context.Background()), "CreateContainerConfigError")
	assert.Assert(t, strings.Contains(d.stderr.String(), `: Failed: secret "db" not found`), d.stderr.String())
	assert.Assert(t, !strings.Contains(d.stderr.String(), "Scheduled"))

	off := false
	d = newTestDriver(t)
	d.Config.PrintPodWarningEvents = &off
	d.setStatusWhenCreated(t, running("helper"), waiting("build", "CreateContainerConfigError"))
	d.client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		t.Fatal("events listed although print_pod_warning_events is false")
		return true, nil, nil
	})
	assert.ErrorContains(t, d.Prepare(context.Background()), "CreateContainerConfigError")
}

func TestPrepareChecksResourcesFirst(t *testing.T) {
	resourceCheckInterval = time.Millisecond
	d := newTestDriver(t)
	d.Config.ResourceAvailabilityCheckMaxAttempts = 3
	d.Config.ServiceAccount = "builder"
	d.Config.ImagePullSecrets = []string{"registry"}
	_, err := d.client.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	err = d.Prepare(context.Background())
	assert.Error(t, err, "namespace default has no secrets registry after 3 checks (resource_availability_check_max_attempts)")
	assert.Equal(t, strings.Count(d.stderr.String(), "Waiting for secrets registry in namespace default"), 2)
	assert.DeepEqual(t, d.podNames(t), []string(nil))

	d = newTestDriver(t)
	d.Config.ResourceAvailabilityCheckMaxAttempts = 3
	d.Config.ServiceAccount = "builder"
	_, err = d.client.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.Prepare(context.Background()))
}

// TestScrubHidesMaskedValuesAndKeepsTheErrorType: a masked value echoed
// in an error never reaches the job log, and a refused variable is still
// a build failure.
func TestScrubHidesMaskedValuesAndKeepsTheErrorType(t *testing.T) {
	d := newTestDriver(t)
	response := filepath.Join(t.TempDir(), "response.json")
	assert.NilError(t, os.WriteFile(response, []byte(`{"variables": [{"key": "TOKEN", "value": "s3cr3t-value", "masked": true}]}`), 0o600))
	d.Env.JobResponseFile = response
	d.Config.NamespaceOverwriteAllowed = "ci-.*"
	d.Environ = append(d.Environ, "CUSTOM_ENV_KUBERNETES_NAMESPACE_OVERWRITE=s3cr3t-value")
	err := d.Scrub(d.Prepare(context.Background()))
	assert.ErrorContains(t, err, `KUBERNETES_NAMESPACE_OVERWRITE="[MASKED]" is not allowed`)
	assert.Assert(t, !strings.Contains(err.Error(), "s3cr3t-value"))
	var stderr bytes.Buffer
	assert.Equal(t, ExitCode(err, d.Env, &stderr), d.Env.BuildFailureExitCode)
	assert.Assert(t, !strings.Contains(stderr.String(), "s3cr3t-value"))
}
