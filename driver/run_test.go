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

func TestCheckContainer(t *testing.T) {
	d := newTestDriver(t)
	cluster := fakeCluster{Clientset: d.client, t: t}
	state := &State{Namespace: "default", Pod: "p", UID: "u1"}
	ctx := context.Background()

	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "pod default/p was deleted")

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u2"}}
	_, err := d.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	assert.NilError(t, err)
	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "was replaced")

	state.UID = "u2"
	assert.NilError(t, checkContainer(ctx, cluster, state, "build"))

	for _, refusal := range []error{apierrors.NewUnauthorized("token expired"), apierrors.NewServiceUnavailable("restarting")} {
		d.client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, refusal })
		err := checkContainer(ctx, cluster, state, "build")
		if apierrors.IsUnauthorized(refusal) {
			assert.ErrorContains(t, err, "get pod default/p: Unauthorized: token expired")
		} else {
			assert.NilError(t, err, "an unavailable API server is reconnected to")
		}
	}
	d.client.ReactionChain = d.client.ReactionChain[2:]

	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "build", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}
	_, err = d.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	assert.NilError(t, err)
	assert.ErrorContains(t, checkContainer(ctx, cluster, state, "build"), "container build was killed for lack of memory (OOMKilled, exit code 137; it has no memory limit: the node ran out)")
}

func TestRunWithoutStateIsASystemFailure(t *testing.T) {
	d := newTestDriver(t)
	script := filepath.Join(t.TempDir(), "s")
	assert.NilError(t, os.WriteFile(script, []byte("true"), 0o600))
	err := d.run(context.Background(), script, "build_script")
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

func TestRunRefusesTheStateOfAnotherJob(t *testing.T) {
	d := newTestDriver(t)
	d.createJobPod(t, "other-job", "43")
	d.writeState(t, foreignState)
	script := filepath.Join(t.TempDir(), "s")
	assert.NilError(t, os.WriteFile(script, []byte("true"), 0o600))
	err := d.run(context.Background(), script, "build_script")
	assert.ErrorContains(t, err, "belongs to job 43")
	assert.Assert(t, !strings.Contains(err.Error(), "\n"), "one line: %q", err)
	var build *BuildFailure
	assert.Assert(t, !errors.As(err, &build))
}
