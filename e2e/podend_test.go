package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIntegrationPodEndExplained: while build_script runs, the pod's
// status is set by hand as the kubelet, the scheduler or the eviction
// API would set it; run stops within seconds with one line saying why,
// as a system failure, or a build failure for the job's own doing.
func TestIntegrationPodEndExplained(t *testing.T) {
	skipShort(t)
	requireKWOK(t, "the pod's status is set by hand, which a real kubelet would overwrite")
	for _, tc := range []struct {
		name     string
		change   func(p *corev1.Pod)
		want     string
		code     int
		exitCode string // BUILD_EXIT_CODE_FILE
	}{
		{"evicted", func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		}, "was evicted from node kwok-node-0: The node was low on resource: memory.", 2, ""},
		{"preempted", func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "PreemptionByScheduler", Message: "default-scheduler: preempting to accommodate a higher priority pod", LastTransitionTime: metav1.Now()})
		}, "is being stopped by the cluster (PreemptionByScheduler): default-scheduler: preempting", 2, ""},
		{"build container out of memory", func(p *corev1.Pod) {
			for i, cs := range p.Status.ContainerStatuses {
				if cs.Name == "build" {
					p.Status.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 137, Reason: "OOMKilled", StartedAt: metav1.Now(), FinishedAt: metav1.Now()}}
					p.Status.ContainerStatuses[i].Ready = false
				}
			}
		}, "container build was killed for lack of memory (OOMKilled, exit code 137; its memory limit is 64Mi)", 1, "137"},
		{"job timeout", func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
		}, "the job's timeout ran out: pod default/", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(t, jobOptions{config: `memory_limit = "64Mi"`})
			assert.Equal(t, j.call("prepare").code, 0)
			cmd := j.command(context.Background(), "run", j.stageScript("build_script", "echo started\nsleep 120\n"), "build_script")
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			assert.NilError(t, cmd.Start())
			waitFor(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "started") })

			name := strings.SplitN(j.pods()[0], "/", 2)[1]
			pod, err := kube.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
			assert.NilError(t, err)
			tc.change(pod)
			_, err = kube.CoreV1().Pods("default").UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
			assert.NilError(t, err)
			changed := time.Now()
			err = cmd.Wait()
			took := time.Since(changed)
			code := 0
			if err != nil {
				code = cmd.ProcessState.ExitCode()
			}
			t.Logf("run ended %s after the status change: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
			// The watch ends it within seconds; the bound only has to
			// tell that from the stage's own end, at 120 s, on a loaded
			// machine too.
			assert.Check(t, took < 60*time.Second, "took %s", took)
			assert.Equal(t, code, tc.code, stderr.String())
			assert.Check(t, is.Contains(stderr.String(), tc.want))
			assert.Equal(t, j.buildExitCode(), tc.exitCode)
			assert.Equal(t, j.call("cleanup").code, 0)
		})
	}
}
