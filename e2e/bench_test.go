package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	jobinput "github.com/k8sdrv/k8sdrv/job"
)

// The benchmarks measure each phase of a job through the k8sdrv binary and,
// beside it, its floor: the same API operations done directly with
// client-go in the same process. hack/bench.sh runs them and writes
// docs/BENCHMARKS.md.

const tenMiB = 10 << 20

// BenchmarkPrepare: `k8sdrv prepare` from process start until the pod runs.
func BenchmarkPrepare(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		j := newJob(b, jobOptions{})
		b.StartTimer()
		r := j.call("prepare")
		b.StopTimer()
		assert.Equal(b, r.code, 0, r.stderr)
		j.call("cleanup")
		b.StartTimer()
	}
}

// BenchmarkPrepareFloor: create the same pod and watch it until it runs.
func BenchmarkPrepareFloor(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pod := floorPod(b)
		b.StartTimer()
		created := createAndWait(b, pod)
		b.StopTimer()
		deleteFloorPod(b, created)
		b.StartTimer()
	}
}

// BenchmarkPrepareFloorNewConnection: the same, on a new connection each
// time, as every k8sdrv process must open one (TCP and TLS handshakes).
func BenchmarkPrepareFloorNewConnection(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pod := floorPod(b)
		b.StartTimer()
		pods := freshClient(b).CoreV1().Pods(pod.Namespace)
		created := createAndWaitWith(b, pods, pod)
		b.StopTimer()
		deleteFloorPod(b, created)
		b.StartTimer()
	}
}

// BenchmarkPrepareFloorProcess: the same from a new process (hack/floor
// prepare: a kubeconfig, k8sdrv's pod client, the create and the watch).
func BenchmarkPrepareFloorProcess(b *testing.B) {
	tool := floorTool(b)
	file := filepath.Join(b.TempDir(), "pod.json")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pod := floorPod(b)
		data, err := json.Marshal(pod)
		assert.NilError(b, err)
		assert.NilError(b, os.WriteFile(file, data, 0o600))
		cmd := exec.Command(tool, "prepare", "-kubeconfig", kubeconfig, "-pod-file", file)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b.StartTimer()
		out, err := cmd.Output()
		b.StopTimer()
		assert.NilError(b, err, stderr.String())
		pod.Name = strings.TrimSpace(string(out))
		deleteFloorPod(b, pod)
		b.StartTimer()
	}
}

// floorTool builds hack/floor into a temporary directory.
func floorTool(b *testing.B) string {
	tool := filepath.Join(b.TempDir(), "floor")
	out, err := exec.Command("go", "build", "-trimpath", "-o", tool, "../hack/floor").CombinedOutput()
	assert.NilError(b, err, "%s", out)
	return tool
}

// BenchmarkRunEmpty: `k8sdrv run` of a stage that does nothing, from process
// start to exit.
func BenchmarkRunEmpty(b *testing.B) {
	j := preparedJob(b)
	script := j.stageScript("build_script", "true\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := j.call("run", script, "build_script"); r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
}

// BenchmarkRunEmptyFloor: one exec of `true` in the same pod.
func BenchmarkRunEmptyFloor(b *testing.B) {
	exec := floorExecutor(b, preparedJob(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		assert.NilError(b, exec.Exec(context.Background(), "build", []string{"true"}, nil, io.Discard, io.Discard))
	}
}

// BenchmarkRunEmptyFloorProcess: one exec of `true` in the same pod from
// a new process (hack/floor exec: a kubeconfig, the exec client k8sdrv
// uses, nothing else), which is what the Custom executor protocol costs a
// stage at least: it starts a process for every stage.
func BenchmarkRunEmptyFloorProcess(b *testing.B) {
	j := preparedJob(b)
	tool := floorTool(b)
	state := jobState(b, j)
	args := []string{"exec", "-kubeconfig", j.kubeconfig, "-namespace", state.Namespace, "-pod", state.Pod, "-container", "build", "--", "true"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkRun10MiB: `k8sdrv run` of a stage printing 10 MiB; reports the
// peak RSS of the k8sdrv process.
func BenchmarkRun10MiB(b *testing.B) {
	j := preparedJob(b)
	script := j.stageScript("build_script", "head -c 10485760 /dev/zero | tr '\\0' x\n")
	b.SetBytes(tenMiB)
	var peak int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, rss := measuredCommand(b, j, "run", script, "build_script")
		counter := &countingDiscard{}
		cmd.Stdout = counter
		assert.NilError(b, cmd.Run())
		assert.Equal(b, counter.n, int64(tenMiB))
		peak = max(peak, rss())
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// BenchmarkRun10MiBFloor: one exec streaming the same 10 MiB.
func BenchmarkRun10MiBFloor(b *testing.B) {
	exec := floorExecutor(b, preparedJob(b))
	b.SetBytes(tenMiB)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counter := &countingDiscard{}
		err := exec.Exec(context.Background(), "build", []string{"sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' x"}, nil, counter, io.Discard)
		assert.NilError(b, err)
		assert.Equal(b, counter.n, int64(tenMiB))
	}
}

// BenchmarkCleanup: `k8sdrv cleanup` of a running job's pod.
func BenchmarkCleanup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		j := preparedJob(b)
		b.StartTimer()
		if r := j.call("cleanup"); r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
}

// BenchmarkCleanupFloor: one pod delete.
func BenchmarkCleanupFloor(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pod := createAndWait(b, floorPod(b))
		b.StartTimer()
		deleteFloorPod(b, pod)
	}
}

// BenchmarkStartup: a `k8sdrv run` process that loads its configuration and
// stops at the missing state file, before any API call: the fixed cost
// every stage pays.
func BenchmarkStartup(b *testing.B) {
	j := newJob(b, jobOptions{})
	var peak int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, rss := measuredCommand(b, j, "run", "/dev/null", "build_script")
		_ = cmd.Run()
		peak = max(peak, rss())
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// BenchmarkJob: a whole job as the runner drives it: config, prepare, five
// stages, cleanup.
func BenchmarkJob(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var services []map[string]any
		for _, name := range strings.Split(envOr("K8SDRV_E2E_SERVICE_IMAGES", "postgres:16,redis:7"), ",") {
			services = append(services, map[string]any{"name": name})
		}
		j := newJob(b, jobOptions{response: map[string]any{"services": services}})
		scripts := map[string]string{}
		stages := []string{"prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"}
		for _, s := range stages {
			scripts[s] = j.stageScript(s, "echo "+s+"\n")
		}
		b.StartTimer()
		for _, args := range [][]string{{"config"}, {"prepare"}} {
			if r := j.call(args...); r.code != 0 {
				b.Fatal(r.stderr)
			}
		}
		for _, s := range stages {
			if r := j.call("run", scripts[s], s); r.code != 0 {
				b.Fatal(r.stderr)
			}
		}
		if r := j.call("cleanup"); r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
}

// measuredCommand runs k8sdrv under GNU time (see underGNUTime); rss
// returns the peak RSS of k8sdrv alone, in KiB.
func measuredCommand(b testing.TB, j *job, args ...string) (cmd *exec.Cmd, rss func() int64) {
	cmd = j.command(context.Background(), args...)
	read := underGNUTime(cmd, filepath.Join(b.TempDir(), "rusage"))
	return cmd, func() int64 {
		ru, err := read()
		assert.NilError(b, err)
		return ru.maxRSS
	}
}

func preparedJob(b *testing.B) *job {
	j := newJob(b, jobOptions{})
	r := j.call("prepare")
	assert.Equal(b, r.code, 0, r.stderr)
	b.Cleanup(func() { j.call("cleanup") })
	return j
}

func floorExecutor(b *testing.B, j *job) attach.Executor {
	state := jobState(b, j)
	return &attach.PodExecutor{Config: restConfig, Client: kube.CoreV1().RESTClient(), Namespace: state.Namespace, Pod: state.Pod}
}

// jobState reads the namespace and name of a prepared job's pod from its
// state file.
func jobState(b *testing.B, j *job) (state struct{ Namespace, Pod string }) {
	data, err := os.ReadFile(filepath.Join(j.tmp, "k8sdrv-state.json"))
	assert.NilError(b, err)
	assert.NilError(b, json.Unmarshal(data, &state))
	return state
}

// floorPod is the pod k8sdrv would create for a default job.
func floorPod(b *testing.B) *corev1.Pod {
	cfgPath := filepath.Join(b.TempDir(), "k8sdrv.toml")
	text := fmt.Sprintf("image = %q\nhelper_image = %q\n%s", envOr("K8SDRV_E2E_IMAGE", "debian:bookworm"),
		envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local"), clusterConfig(b.TempDir()))
	assert.NilError(b, os.WriteFile(cfgPath, []byte(text), 0o600))
	cfg, err := config.Load(cfgPath)
	assert.NilError(b, err)
	return buildPods(b, cfg, &jobinput.Job{ID: "floor", ProjectID: "1", RunnerShortToken: "floor", ConcurrentID: "0"})[0]
}

func createAndWait(b *testing.B, pod *corev1.Pod) *corev1.Pod {
	return createAndWaitWith(b, kube.CoreV1().Pods(pod.Namespace), pod)
}

// freshClient returns a clientset that opens its own connection: client-go
// shares transports between equal configs unless Dial is set.
func freshClient(b *testing.B) kubernetes.Interface {
	rc := rest.CopyConfig(restConfig)
	rc.Dial = (&net.Dialer{}).DialContext
	c, err := kubernetes.NewForConfig(rc)
	assert.NilError(b, err)
	return c
}

func createAndWaitWith(b *testing.B, pods typedcorev1.PodInterface, pod *corev1.Pod) *corev1.Pod {
	ctx := context.Background()
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	assert.NilError(b, err)
	w, err := pods.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", created.Name).String(),
		ResourceVersion: created.ResourceVersion,
	})
	assert.NilError(b, err)
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && allRunning(p) {
			return p
		}
	}
	b.Fatal("watch ended before the pod ran")
	return nil
}

func allRunning(p *corev1.Pod) bool {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil {
			n++
		}
	}
	return n == len(p.Spec.Containers)
}

func deleteFloorPod(b *testing.B, pod *corev1.Pod) {
	assert.NilError(b, kube.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{}))
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
