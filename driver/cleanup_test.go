package driver

import (
	"context"
	"errors"
	"os"
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
	pods := d.client.CoreV1().Pods("default")
	for name, job := range map[string]string{"mine": "42", "other-job": "43"} {
		_, err := pods.Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "k8sdrv", "k8sdrv.io/job-id": job,
				"k8sdrv.io/project-id": "7", "k8sdrv.io/runner": "tok", "k8sdrv.io/concurrent-id": "0"},
		}}, metav1.CreateOptions{})
		assert.NilError(t, err)
	}
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
