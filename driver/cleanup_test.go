package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestCleanupDeletesTheStatePod(t *testing.T) {
	d := newTestDriver(t)
	d.setStatusWhenCreated(t, running("build"), running("helper"))
	assert.NilError(t, d.prepare(context.Background()))
	assert.NilError(t, d.cleanup())
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
	assert.NilError(t, d.cleanup())
	assert.Equal(t, calls, 3)
}

func TestCleanupGivesUpOnPermanentErrors(t *testing.T) {
	d := newTestDriver(t)
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Namespace: "default", Pod: "p", UID: "u"}))
	d.client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(podsResource, "p", errors.New("no RBAC"))
	})
	err := d.cleanup()
	assert.Error(t, err, `delete pod default/p: Forbidden: pods "p" is forbidden: no RBAC (hint: k8sdrv's account lacks this permission; see examples/rbac.yaml)`)
}

func TestCleanupWithoutStateDeletesOnlyThisJobsPods(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	d.createJobPod(t, "other-job", "43")
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"other-job"})
}

func TestCleanupWithoutStateOrJobIDDoesNothing(t *testing.T) {
	d := newTestDriver(t)
	d.Environ = nil
	_, err := d.client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "someone-elses", Namespace: "default", Labels: map[string]string{"app.kubernetes.io/managed-by": "k8sdrv"},
	}}, metav1.CreateOptions{})
	assert.NilError(t, err)
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"someone-elses"})
}

func TestCleanupUsesTheCleanupGracePeriod(t *testing.T) {
	d := newTestDriver(t)
	grace := int64(3)
	d.cfg.CleanupGracePeriodSeconds = &grace
	assert.NilError(t, saveState(d.Env.TmpDir, &State{Namespace: "default", Pod: "p", UID: "u"}))
	var got *int64
	d.client.PrependReactor("delete", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		got = action.(k8stesting.DeleteAction).GetDeleteOptions().GracePeriodSeconds
		return false, nil, nil
	})
	assert.NilError(t, d.cleanup())
	assert.Assert(t, got != nil && *got == 3)
}

// TestCleanupDeletesEveryPullAttempt: the pod of a failed pull attempt

// whose delete failed is still deleted by cleanup, although prepare went

// on to the next attempt.

func TestCleanupDeletesEveryPullAttempt(t *testing.T) {
	d := newTestDriver(t)
	d.cfg.PullPolicy = []string{"always", "if-not-present"}
	d.changeWhenCreated(t, func(pod *corev1.Pod, pods int) {
		pod.Status.Phase = corev1.PodPending
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{running("build"), running("helper")}
		if pods == 1 {
			pod.Status.ContainerStatuses[0] = waiting("build", "ErrImagePull")
		}
	})
	deletes := 0
	d.client.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		deletes++
		if deletes == 1 {
			return true, nil, apierrors.NewForbidden(podsResource, "", errors.New("not now"))
		}
		return false, nil, nil
	})
	assert.NilError(t, d.prepare(context.Background()))
	assert.Equal(t, len(d.podNames(t)), 2, "the first attempt's pod is left after its failed delete")
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// createJobPod creates a pod labelled as k8sdrv's pod of job jobID of the

// test driver's runner and project.

// writeState writes a state file as JSON text, as any version of k8sdrv

// may have left it.

func TestCleanupWithADamagedStateUsesTheLabels(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	d.createJobPod(t, "other-job", "43")
	d.writeState(t, `{"namespace": "default", "po`)
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"other-job"})
	assert.Equal(t, strings.Count(d.stderr.String(), "damaged"), 1, d.stderr.String())
	_, err := os.Stat(statePath(d.Env.TmpDir))
	assert.Assert(t, os.IsNotExist(err))

	// Without the job's identity there are no labels to go by.
	d = newTestDriver(t)
	d.Environ = nil
	d.createJobPod(t, "mine", "42")
	d.writeState(t, `{"namespace": "default", "po`)
	assert.ErrorContains(t, d.cleanup(), "is damaged: unexpected end of JSON input")
	assert.DeepEqual(t, d.podNames(t), []string{"mine"})
}

func TestCleanupWithABrokenJobResponseUsesTheLabels(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	d.createJobPod(t, "other-job", "43")
	d.Env.JobResponseFile = filepath.Join(t.TempDir(), "response.json")
	assert.NilError(t, os.WriteFile(d.Env.JobResponseFile, []byte("{not json"), 0o600))
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"other-job"})
}

func TestCleanupRetriesTransientListErrors(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	lists := 0
	d.client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		if lists < 3 {
			return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
		}
		return false, nil, nil
	})
	assert.NilError(t, d.cleanup())
	assert.Equal(t, lists, 3)
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// foreignState is a state file that another job (43) left in a reused

// TMPDIR, naming that job's pod.

const foreignState = `{"namespace": "default", "pod": "other-job", "uid": "uid-other-job", "driver_dir": "/k8sdrv",
	"job": {"job_id": "43", "project_id": "7", "runner": "tok", "concurrent_id": "0"}}`

func TestCleanupLeavesAForeignStatesPodAlone(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	d.createJobPod(t, "other-job", "43")
	d.writeState(t, foreignState)
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string{"other-job"})
}

// TestCleanupOfAPreviousVersionsState: a state without the job's identity

// (written before k8sdrv recorded it) still names the job's pod.

func TestCleanupOfAPreviousVersionsState(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "mine", "42")
	d.writeState(t, `{"namespace": "default", "pod": "mine", "uid": "uid-mine", "driver_dir": "/k8sdrv"}`)
	assert.NilError(t, d.cleanup())
	assert.DeepEqual(t, d.podNames(t), []string(nil))
}

// TestStateNamingNoValidPodIsDamaged: a state whose names the API server
// would never have given (an empty namespace, a path in the pod name, a
// relative driver_dir) is damaged: run refuses it, cleanup goes by the
// labels.
func TestStateNamingNoValidPodIsDamaged(t *testing.T) {
	for _, tc := range []struct{ state, want string }{
		{`{"pod": "runner-x"}`, `namespace "" is not a valid namespace`},
		{`{"namespace": "default", "pod": "../../x", "driver_dir": "/k8sdrv"}`, `pod "../../x" is not a valid pod name`},
		{`{"namespace": "default", "pod": "runner-x", "driver_dir": "k8sdrv"}`, `driver_dir "k8sdrv" is not an absolute path`},
		{`{"namespace": "default", "pod": "runner-x", "driver_dir": "/k8sdrv", "pods": [{"namespace": "Default", "name": "runner-x"}]}`,
			`pods[0]: namespace "Default" is not a valid namespace`},
	} {
		d := newTestDriver(t)
		d.writeState(t, tc.state)
		_, err := loadState(d.Env.TmpDir)
		assert.ErrorContains(t, err, "is damaged: "+tc.want)
		d.createJobPod(t, "mine", "42")
		assert.NilError(t, d.cleanup())
		assert.DeepEqual(t, d.podNames(t), []string(nil))
	}
}
