package driver

import (
	"context"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodTimingLine(t *testing.T) {
	start := time.Unix(1000, 0)
	timing := newPodTiming(start)
	pod := testPod(corev1.PodPending)
	timing.observe(pod, start.Add(50*time.Millisecond))
	pod.Spec.NodeName = "node-1"
	timing.observe(pod, start.Add(120*time.Millisecond))
	timing.observe(testPodOn("node-1", running("helper")), start.Add(1240*time.Millisecond))
	timing.observe(testPodOn("node-1", running("helper"), running("build")), start.Add(2910*time.Millisecond))
	assert.Equal(t, timing.line(pod, start.Add(2950*time.Millisecond), []string{"alpine:3 pulled in 1.9s (3.4 MB)", "helper:1 present"}),
		"Pod ci/p running after 3.0s: scheduled after 0.1s; containers running: helper 1.2s, build 2.9s; images: alpine:3 pulled in 1.9s (3.4 MB), helper:1 present")
	// A pod bound by hand, seen running at once: no steps to tell.
	assert.Equal(t, newPodTiming(start).line(pod, start.Add(time.Second), nil), "Pod ci/p running after 1.0s")
}

func testPodOn(node string, statuses ...corev1.ContainerStatus) *corev1.Pod {
	pod := testPod(corev1.PodPending, statuses...)
	pod.Spec.NodeName = node
	return pod
}

func TestImagePulls(t *testing.T) {
	d := newTestDriver(t)
	for i, msg := range []string{
		`Successfully pulled image "alpine:3" in 1.912s (1.912s including waiting). Image size: 3456789 bytes.`,
		`Container image "helper:1" already present on machine`,
		`Successfully pulled image "svc:2" in 640ms (700ms including waiting)`,
		`Container image "helper:1" already present on machine`, // a second container of the image
	} {
		_, err := d.client.CoreV1().Events("ci").Create(context.Background(), &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "e" + string(rune('a'+i)), Namespace: "ci"},
			InvolvedObject: corev1.ObjectReference{Name: "p"}, Reason: "Pulled", Message: msg,
		}, metav1.CreateOptions{})
		assert.NilError(t, err)
	}
	cluster, err := d.Connect(d.cfg)
	assert.NilError(t, err)
	assert.DeepEqual(t, d.imagePulls(context.Background(), cluster, "ci", "p"),
		[]string{"alpine:3 pulled in 1.912s (3.5 MB)", "helper:1 present", "svc:2 pulled in 640ms"})
}
