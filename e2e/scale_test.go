package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// The scale benchmark (make bench-scale): many jobs at once on a KWOK
// cluster of many simulated nodes, each job driven as gitlab-runner drives
// it (config, prepare, five stages, cleanup; an image and one service; a few
// KiB of output per stage), from as many concurrent driver processes as the
// level's concurrency. Per level it measures throughput, latencies, failures,
// the pods left behind, k8sdrv's own CPU time and peak RSS (GNU time's
// rusage of each k8sdrv process) and the API server's request counters.

// scaleSettings say how big the scale benchmark is.
type scaleSettings struct {
	jobs   int   // jobs per level
	levels []int // concurrency levels, in order
	nodes  int   // simulated nodes of the benchmark's cluster
	doc    string
	plot   string
}

// fullScale is the benchmark's full size; any other size is reported as a
// smoke run.
var fullScale = scaleSettings{jobs: 500, levels: []int{50, 100, 200}, nodes: 100}

// scaleSettingsFrom reads K8SDRV_SCALE_JOBS, K8SDRV_SCALE_LEVELS (comma
// list), K8SDRV_SCALE_NODES, and K8SDRV_SCALE_DOC and K8SDRV_SCALE_PLOT
// (the Markdown file whose bench-scale section is rewritten and the SVG
// plot; neither is written when unset). Every bad value is reported.
func scaleSettingsFrom(getenv func(string) string) (scaleSettings, error) {
	s := fullScale
	s.levels = slices.Clone(fullScale.levels)
	s.doc, s.plot = getenv("K8SDRV_SCALE_DOC"), getenv("K8SDRV_SCALE_PLOT")
	var errs []error
	positive := func(name string, into *int) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive whole number", name, v))
			return
		}
		*into = n
	}
	positive("K8SDRV_SCALE_JOBS", &s.jobs)
	positive("K8SDRV_SCALE_NODES", &s.nodes)
	if v := getenv("K8SDRV_SCALE_LEVELS"); v != "" {
		s.levels = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("K8SDRV_SCALE_LEVELS=%q: %q is not a positive whole number", v, f))
				continue
			}
			s.levels = append(s.levels, n)
		}
	}
	return s, errors.Join(errs...)
}

// full says whether s is the benchmark's full size.
func (s scaleSettings) full() bool {
	return s.jobs == fullScale.jobs && s.nodes == fullScale.nodes && slices.Equal(s.levels, fullScale.levels)
}

// scaleStages are the stages of every job of the benchmark.
var scaleStages = []string{"prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"}

// scalePollTimeout is the jobs' poll_timeout in seconds.
const scalePollTimeout = 900

// scaleService is the job's one service (on KWOK its image need not exist).
const scaleService = "redis:7"

// scaleStageOutput returns a stage's commands, which print 48 lines of 84
// bytes or so (about 4 KiB), and the output they must give.
func scaleStageOutput(stage string) (commands, want string) {
	const lines = 48
	pad := strings.Repeat("x", 60)
	commands = fmt.Sprintf("i=0\nwhile [ \"$i\" -lt %d ]; do i=$((i + 1)); printf '%s line %%02d %s\\n' \"$i\"; done\n", lines, stage, pad)
	var b strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&b, "%s line %02d %s\n", stage, i, pad)
	}
	return commands, b.String()
}

// TestIntegrationScale is make bench-scale: on a KWOK cluster of its own
// with K8SDRV_SCALE_NODES simulated nodes, K8SDRV_SCALE_JOBS jobs at each
// concurrency of K8SDRV_SCALE_LEVELS. It fails when a job fails or a pod
// is left after a level.
func TestIntegrationScale(t *testing.T) {
	skipShort(t)
	if os.Getenv("K8SDRV_E2E_SCALE") == "" {
		t.Skip("make bench-scale runs it (K8SDRV_E2E_SCALE=1)")
	}
	requireKWOK(t, "it simulates many nodes")
	settings, err := scaleSettingsFrom(os.Getenv)
	assert.NilError(t, err)
	report := scaleReport{settings: settings, started: time.Now().UTC(), version: binaryVersion(t)}
	report.machine, err = readMachine()
	assert.NilError(t, err)
	permissions, err := os.ReadFile("../driver/permissions_gen.go")
	assert.NilError(t, err)
	var created []string
	report.k8sdrv, created = k8sdrvRequests(string(permissions))
	// podsLeft counts pods: besides them k8sdrv creates only a job's
	// namespace (namespace_per_job, which the bench does not set) and a
	// PodDisruptionBudget owned by the pod (pod_disruption_budget).
	assert.DeepEqual(t, created, []string{"namespaces", "pods", "poddisruptionbudgets"})
	ownCluster(t, envOr("CLUSTER_NAME", "k8sdrv")+"-scale", "NODES="+strconv.Itoa(settings.nodes))
	for _, c := range settings.levels {
		t.Run(fmt.Sprintf("concurrency-%d", c), func(t *testing.T) {
			level := runLevel(t, settings.jobs, c)
			t.Log(level.summary())
			report.levels = append(report.levels, level)
			// A run stopped later still leaves the levels measured so far.
			if settings.doc != "" && len(report.levels) < len(settings.levels) {
				report.elapsed = time.Since(report.started)
				report.loadEnd, _ = loadAverage()
				assert.Check(t, report.writeDoc(settings.doc))
			}
		})
	}
	report.elapsed = time.Since(report.started)
	// After the levels, not before: a new cluster's 100 nodes post their
	// registration events for a while.
	report.idle = idleRequestRate(t, 10*time.Second)
	report.loadEnd, err = loadAverage()
	assert.NilError(t, err)
	t.Logf("scale:\n%s", report.table())
	if settings.doc != "" {
		assert.NilError(t, report.writeDoc(settings.doc))
	}
	if settings.plot != "" {
		assert.NilError(t, os.WriteFile(settings.plot, latencyPlot(report.levels), 0o644))
	}
	for _, l := range report.levels {
		assert.Check(t, l.failures == 0 && l.left == 0, "concurrency %d: %d failed jobs, %d pods left", l.concurrency, l.failures, l.left)
	}
}

// scaleJob is one job of the benchmark, with its stage scripts written.
type scaleJob struct {
	j       *job
	scripts []string
	want    []string
}

func newScaleJob(t *testing.T) *scaleJob {
	j := newJob(t, jobOptions{
		response: map[string]any{"services": []map[string]any{{"name": envOr("K8SDRV_E2E_SERVICE_IMAGE", scaleService)}}},
		// At 200 jobs at once on 2 cores a pod waits minutes for the
		// starved scheduler and kwok; the benchmark measures that wait.
		pollTimeout: scalePollTimeout,
	})
	sj := &scaleJob{j: j}
	for _, stage := range scaleStages {
		commands, want := scaleStageOutput(stage)
		sj.scripts = append(sj.scripts, j.stageScript(stage, commands))
		sj.want = append(sj.want, want)
	}
	return sj
}

// jobRecord is what the driver calls of one job measured.
type jobRecord struct {
	prepare time.Duration
	// scheduled is how long prepare's pod waited for the scheduler, from
	// prepare's timing line.
	scheduled time.Duration
	stages    []time.Duration
	cpu       time.Duration // user and system time of the job's k8sdrv processes
	maxRSS    int64         // KiB: the largest of them
	failure   string        // the first thing that went wrong; "" when nothing did
}

func (r *jobRecord) fail(format string, args ...any) {
	if r.failure == "" {
		r.failure = fmt.Sprintf(format, args...)
	}
}

// drive runs the job as gitlab-runner does; cleanup runs whatever happened
// before it. It may run on any goroutine: it records failures rather than
// failing the test.
func (sj *scaleJob) drive() jobRecord {
	var rec jobRecord
	r := sj.call(&rec, "config")
	if r.code != 0 || !json.Valid([]byte(r.stdout)) {
		rec.fail("config: exit %d, stdout %q: %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if rec.failure == "" {
		r = sj.call(&rec, "prepare")
		rec.prepare = r.elapsed
		rec.scheduled = scheduledAfter(r.stderr)
		if r.code != 0 {
			rec.fail("prepare: exit %d: %s", r.code, lastLine(r.stderr))
		}
	}
	for i, stage := range scaleStages {
		if rec.failure != "" {
			break
		}
		r = sj.call(&rec, "run", sj.scripts[i], stage)
		rec.stages = append(rec.stages, r.elapsed)
		switch {
		case r.code != 0:
			rec.fail("run %s: exit %d: %s", stage, r.code, lastLine(r.stderr))
		case r.stdout != sj.want[i]:
			rec.fail("run %s: %d bytes of output, want %d", stage, len(r.stdout), len(sj.want[i]))
		}
	}
	if r = sj.call(&rec, "cleanup"); r.code != 0 {
		rec.fail("cleanup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	return rec
}

// call runs one k8sdrv call under GNU time and adds its rusage to rec.
func (sj *scaleJob) call(rec *jobRecord, args ...string) result {
	cmd := sj.j.command(context.Background(), args...)
	read := underGNUTime(cmd, filepath.Join(sj.j.root, "rusage"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start), code: exitCode(err)}
	if ru, err := read(); err != nil {
		rec.fail("%s: %v", args[0], err)
	} else {
		rec.cpu += ru.cpu
		rec.maxRSS = max(rec.maxRSS, ru.maxRSS)
	}
	own := r.stderr
	if args[0] != "run" {
		own += r.stdout
	}
	for _, secret := range secrets {
		if strings.Contains(own, secret) {
			rec.fail("what k8sdrv %s printed holds a secret", args[0])
		}
	}
	return r
}

// scheduledLine finds "scheduled after 1.2s" in prepare's timing line.
var scheduledLine = regexp.MustCompile(`: scheduled after ([0-9.]+)s`)

// scheduledAfter is the scheduler's wait in prepare's output, 0 when it
// does not say.
func scheduledAfter(stderr string) time.Duration {
	m := scheduledLine.FindStringSubmatch(stderr)
	if m == nil {
		return 0
	}
	seconds, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(seconds * float64(time.Second))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// runLevel runs jobs jobs, concurrency at a time, and measures them. The
// API server's counters are read before the first job starts and after the
// last ends; the pods left are counted after that.
func runLevel(t *testing.T, jobs, concurrency int) levelResult {
	sjs := make([]*scaleJob, jobs)
	for i := range sjs {
		sjs[i] = newScaleJob(t)
	}
	before := apiRequests(t)
	records := make([]jobRecord, jobs)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < jobs; i = int(next.Add(1) - 1) {
				records[i] = sjs[i].drive()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	// The API server counts a watch or an exec when its connection has
	// closed, which it may notice a moment after the process exited.
	time.Sleep(2 * time.Second)
	requests := apiRequests(t).minus(before)
	return summarize(concurrency, wall, records, requests, podsLeft(t))
}
