package driver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

func TestPrepareWaitsUntilEveryContainerRuns(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.DeepEqual(t, d.podNames(t), []string{state.Pod})
	assert.Equal(t, state.Namespace, "default")
	assert.DeepEqual(t, state.Job, &job.Identity{JobID: "42", ProjectID: "7", RunnerShortToken: "tok", ConcurrentID: "0"})
	assert.DeepEqual(t, state.Pods, []PodRef{{Namespace: "default", Name: state.Pod, UID: state.UID}})
}

// TestPrepareWatchesWhileItCreates: the pod's watch is opened while the
// create is on its way, so it names the pod without a resource version
// (the most recent state: nothing is missed whether it opens before or
// after the create lands), and no second watch follows.
func TestPrepareWatchesWhileItCreates(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	var watches []string
	for _, a := range d.client.Actions() {
		if w, ok := a.(k8stesting.WatchAction); ok {
			name, _ := w.GetWatchRestrictions().Fields.RequiresExactMatch("metadata.name")
			watches = append(watches, name+" from resource version "+strconv.Quote(w.GetWatchRestrictions().ResourceVersion))
		}
	}
	assert.DeepEqual(t, watches, []string{state.Pod + ` from resource version ""`})
}

// TestPrepareIgnoresAnotherPodOfTheSameName: a watch by name may show an
// earlier pod of that name (here one deleted); only the created pod's UID
// counts.
func TestPrepareIgnoresAnotherPodOfTheSameName(t *testing.T) {
	d := newTestDriver(t)
	earlier := func(name string) watch.Event {
		return watch.Event{Type: watch.Deleted, Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "an-earlier-pod"}}}
	}
	d.changeWhenCreated(t, func(pod *corev1.Pod, _ int) {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{running("build"), running("helper")}
	}, earlier)
	assert.NilError(t, d.prepare(context.Background()))
}

// TestPrepareRecordsTheJobsDriverDir: with scripts_base_dir, k8sdrv's
// volume sits in a directory named after the job, and the state file
// tells run where.
func TestPrepareRecordsTheJobsDriverDir(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.DriverDir, d.cfg.ScriptsBaseDir = "", "/tmp"
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	state, err := loadState(d.Env.TmpDir)
	assert.NilError(t, err)
	assert.Equal(t, state.DriverDir, "/tmp/k8sdrv-7-42")
	pod, err := d.client.CoreV1().Pods("default").Get(context.Background(), state.Pod, metav1.GetOptions{})
	assert.NilError(t, err)
	for _, c := range pod.Spec.Containers[:2] {
		assert.Check(t, slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == state.DriverDir }), c.Name)
	}
}

func TestPrepareFailsFastAndDeletesThePod(t *testing.T) {
	for _, reason := range []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"} {
		t.Run(reason, func(t *testing.T) {
			d := newTestDriver(t)
			d.setStatusWhenCreated(t, running("helper"), waiting("build", reason))
			err := d.prepare(context.Background())
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
		{apierrors.NewForbidden(podsResource, "", errors.New("no RBAC")),
			"Forbidden: pods is forbidden: no RBAC (hint: k8sdrv's account lacks this permission; see examples/rbac.yaml)"},
		{apierrors.NewUnauthorized("bad token"), "Unauthorized: bad token (hint: the credentials"},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "default"),
			`NotFound: namespaces "default" not found (hint: does namespace default exist?)`},
		{apierrors.NewInternalError(errors.New("etcd down")), "InternalError: Internal error occurred: etcd down"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			d := newTestDriver(t)
			d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			err := d.prepare(context.Background())
			assert.ErrorContains(t, err, "create pod in namespace default: "+tc.want)
			_, statErr := os.Stat(statePath(d.Env.TmpDir))
			assert.Assert(t, os.IsNotExist(statErr), "no state without a pod")
		})
	}
}

func TestDryRunContactsNoCluster(t *testing.T) {
	d := newTestDriver(t)
	d.Connect = func(*config.Config) (Cluster, error) { t.Fatal("dry run connected"); return nil, nil }
	var out bytes.Buffer
	d.Stdout = &out
	assert.NilError(t, d.dryRun())
	assert.Assert(t, bytes.Contains(out.Bytes(), []byte("generateName: runner-tok-project-7-concurrent-0-")))
}

func TestPrepareCancelledWhileWaiting(t *testing.T) {
	d := newTestDriver(t)
	d.client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, watch.NewFake(), nil // a pod that never changes
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := d.prepare(ctx)
	assert.ErrorContains(t, err, "cancelled while waiting for pod default/runner-tok-project-7-concurrent-0-")
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

func TestPrepareTimesOutWithTheReason(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.PollTimeout = 1
	d.setStatusWhenCreated(t, waiting("build", "ContainerCreating"), running("helper"))
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, "not running after poll_timeout (1s): status is Pending (build ContainerCreating)")
	assert.DeepEqual(t, d.podNames(t), []string(nil))
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
	assert.ErrorContains(t, d.prepare(context.Background()), "CreateContainerConfigError")
	assert.Assert(t, strings.Contains(d.stderr.String(), `: Failed: secret "db" not found`), d.stderr.String())
	assert.Assert(t, !strings.Contains(d.stderr.String(), "Scheduled"))

	off := false
	d = newTestDriver(t)
	d.cfg.PrintPodWarningEvents = &off
	d.setStatusWhenCreated(t, running("helper"), waiting("build", "CreateContainerConfigError"))
	d.client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		t.Fatal("events listed although print_pod_warning_events is false")
		return true, nil, nil
	})
	assert.ErrorContains(t, d.prepare(context.Background()), "CreateContainerConfigError")
}

func TestPrepareChecksResourcesFirst(t *testing.T) {
	resourceCheckInterval = time.Millisecond
	d := newTestDriver(t)
	d.cfg.ResourceAvailabilityCheckMaxAttempts = 3
	d.cfg.ServiceAccount = "builder"
	d.cfg.ImagePullSecrets = []string{"registry"}
	_, err := d.client.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	err = d.prepare(context.Background())
	assert.Error(t, err, "namespace default has no secret registry after 3 checks (resource_availability_check_max_attempts)")
	assert.Equal(t, strings.Count(d.stderr.String(), "Waiting for secret registry in namespace default"), 2)
	assert.DeepEqual(t, d.podNames(t), []string(nil))

	d = newTestDriver(t)
	d.cfg.ResourceAvailabilityCheckMaxAttempts = 3
	d.cfg.ServiceAccount = "builder"
	_, err = d.client.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
}

// TestScrubHidesMaskedValuesAndKeepsTheErrorType: a masked value echoed
// in an error never reaches the job log, and a refused variable is still
// a build failure.
func TestScrubHidesMaskedValuesAndKeepsTheErrorType(t *testing.T) {
	d := newTestDriver(t)
	response := filepath.Join(t.TempDir(), "response.json")
	assert.NilError(t, os.WriteFile(response, []byte(`{"variables": [{"key": "TOKEN", "value": "s3cr3t-value", "masked": true}]}`), 0o600))
	d.Env.JobResponseFile = response
	d.cfg.NamespaceOverwriteAllowed = "ci-.*"
	d.Environ = append(d.Environ, "CUSTOM_ENV_KUBERNETES_NAMESPACE_OVERWRITE=s3cr3t-value")
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, `KUBERNETES_NAMESPACE_OVERWRITE="[MASKED]" is not allowed`)
	assert.Assert(t, !strings.Contains(err.Error(), "s3cr3t-value"))
	var stderr bytes.Buffer
	assert.Equal(t, ExitCode(err, d.Env, NewLogger(&stderr, false)), d.Env.BuildFailureExitCode)
	assert.Assert(t, !strings.Contains(stderr.String(), "s3cr3t-value"))
}

// TestPrepareWithoutAWritableTMPDIRCreatesNothing: the state file is
// written after the pod is created; a TMPDIR that cannot hold it must
// fail prepare before, not leave a pod created and deleted again.
func TestPrepareWithoutAWritableTMPDIRCreatesNothing(t *testing.T) {
	for name, dir := range map[string]func(t *testing.T) string{
		"missing": func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") },
		"a file": func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "file")
			assert.NilError(t, os.WriteFile(path, nil, 0o600))
			return path
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newTestDriver(t)
			d.Env.TmpDir = dir(t)
			creates := 0
			d.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				creates++
				return false, nil, nil
			})
			err := d.prepare(context.Background())
			assert.ErrorContains(t, err, "TMPDIR "+d.Env.TmpDir+": prepare keeps the job's state there: ")
			assert.Equal(t, creates, 0)
		})
	}
}
