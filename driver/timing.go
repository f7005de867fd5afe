package driver

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// podTiming records when prepare saw the job's pod reach each step of its
// start (its own clock: the API's timestamps have whole seconds), for the
// line prepare prints when the pod runs.
type podTiming struct {
	start     time.Time
	scheduled time.Duration            // 0: not seen yet
	running   map[string]time.Duration // container → when seen running
}

func newPodTiming(start time.Time) *podTiming {
	return &podTiming{start: start, running: map[string]time.Duration{}}
}

// observe notes the steps pod has reached by now.
func (t *podTiming) observe(pod *corev1.Pod, now time.Time) {
	if t.scheduled == 0 && pod.Spec.NodeName != "" {
		t.scheduled = now.Sub(t.start)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if _, seen := t.running[cs.Name]; !seen && cs.State.Running != nil {
			t.running[cs.Name] = now.Sub(t.start)
		}
	}
}

// line says where the time went: "Pod ci/p running after 2.9s: scheduled
// after 0.1s; containers running: helper 1.2s, build 2.9s; images: alpine:3
// pulled in 1.9s (3.4 MB), helper:1 present".
func (t *podTiming) line(pod *corev1.Pod, now time.Time, pulls []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Pod %s/%s running after %s", pod.Namespace, pod.Name, seconds(now.Sub(t.start)))
	if t.scheduled > 0 {
		fmt.Fprintf(&b, ": scheduled after %s", seconds(t.scheduled))
	}
	names := slices.SortedFunc(maps.Keys(t.running), func(a, b string) int {
		return cmp.Or(cmp.Compare(t.running[a], t.running[b]), cmp.Compare(a, b))
	})
	var running []string
	for _, name := range names {
		running = append(running, name+" "+seconds(t.running[name]))
	}
	if len(running) > 0 {
		fmt.Fprintf(&b, "; containers running: %s", strings.Join(running, ", "))
	}
	if len(pulls) > 0 {
		fmt.Fprintf(&b, "; images: %s", strings.Join(pulls, ", "))
	}
	return b.String()
}

// seconds rounds d to a tenth of a second.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', 1, 64) + "s"
}

var (
	pulledRE  = regexp.MustCompile(`^Successfully pulled image "([^"]+)" in ([0-9.]+m?s)\b(?:.*Image size: ([0-9]+) bytes)?`)
	presentRE = regexp.MustCompile(`^Container image "([^"]+)" already present on machine`)
)

// imagePulls reads the kubelet's Pulled events of the pod: how long each
// image took to pull and its size, or that it was present.
func (d *Driver) imagePulls(ctx context.Context, cluster Cluster, namespace, pod string) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// kubeAPI: events, list
	list, err := cluster.Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": pod, "reason": "Pulled"}.String(),
	})
	if err != nil {
		return nil // the line goes without them
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range list.Items {
		if e.InvolvedObject.Name != pod || e.Reason != "Pulled" {
			continue
		}
		var text string
		if m := pulledRE.FindStringSubmatch(e.Message); m != nil {
			text = m[1] + " pulled in " + m[2]
			if size, err := strconv.ParseFloat(m[3], 64); err == nil {
				text += fmt.Sprintf(" (%.1f MB)", size/1e6)
			}
		} else if m := presentRE.FindStringSubmatch(e.Message); m != nil {
			text = m[1] + " present"
		}
		if text != "" && !seen[text] {
			seen[text] = true
			out = append(out, text)
		}
	}
	return out
}
