package e2e

import (
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// scaleReport is make bench-scale's result: the section of
// docs/BENCHMARKS.md between scaleBegin and scaleEnd.
type scaleReport struct {
	settings scaleSettings
	machine  machine
	started  time.Time
	elapsed  time.Duration
	loadEnd  string
	version  string
	idle     idleRate
	levels   []levelResult
	k8sdrv   map[string]bool // the requests k8sdrv's permissions allow ("POST pods")
}

const (
	scaleBegin = "<!-- make bench-scale: begin (written by e2e/scale_test.go) -->"
	scaleEnd   = "<!-- make bench-scale: end -->"
)

// scaleNotes help to read the numbers of any run.
const scaleNotes = `Reading the numbers:

* On KWOK every "container" is this host: each stage's script, the
  launcher in the "container" and kwok's exec server run as host processes
  on the same cores as the control plane (etcd, kube-apiserver, scheduler,
  controller-manager, kwok), the k8sdrv processes and the benchmark itself.
  Once those cores are busy, more concurrency only queues: jobs per minute
  stays where the machine saturates and latency grows with concurrency.
  The numbers describe this machine at that load, not k8sdrv alone;
  k8sdrv's own share is its CPU time per job.
* A stage's latency is one ` + "`k8sdrv run`" + ` process from start to exit; a
  prepare's is ` + "`k8sdrv prepare`" + ` until the pod runs, and its scheduler part
  the wait from the pod's creation to its PodScheduled condition (prepare's
  timing line). poll_timeout is 900 s: a pod that waits longer than
  GitLab's default of 180 s is a measurement here, not a failure.
* CPU time and peak RSS are GNU time's rusage of every k8sdrv process of
  a job (config, prepare, five runs, cleanup): CPU summed over the job,
  RSS the job's largest process.
* Pods left are pods with k8sdrv's managed-by label in any namespace, counted
  after each level once pods being deleted are gone (at most 60 s); k8sdrv
  creates no other object (the ` + "`create`" + ` permissions of
  ` + "`driver/permissions_gen.go`" + `, which the benchmark reads).

`

// writeDoc replaces the bench-scale section of the Markdown file at path,
// or appends one.
func (r scaleReport) writeDoc(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := replaceSection(string(data), scaleBegin+"\n"+r.markdown()+scaleEnd+"\n")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// replaceSection puts section (markers included) in the place of doc's
// bench-scale section, or at its end when it has none.
func replaceSection(doc, section string) (string, error) {
	begin, end := strings.Index(doc, scaleBegin), strings.Index(doc, scaleEnd)
	switch {
	case begin < 0 && end < 0:
		return strings.TrimRight(doc, "\n") + "\n\n" + section, nil
	case begin < 0 || end < begin:
		return "", fmt.Errorf("the bench-scale section's markers are damaged (%q ... %q)", scaleBegin, scaleEnd)
	}
	return doc[:begin] + section + strings.TrimPrefix(doc[end+len(scaleEnd):], "\n"), nil
}

func (r scaleReport) markdown() string {
	var b strings.Builder
	s := r.settings
	b.WriteString("### Many jobs at once (`make bench-scale`)\n\n")
	if len(r.levels) < len(s.levels) {
		fmt.Fprintf(&b, "**Partial: %d of %d levels measured**; the run had not finished when this was written.\n\n", len(r.levels), len(s.levels))
	}
	if !s.full() {
		fmt.Fprintf(&b, "**Smoke run, not the full size** (%d jobs per level at %s on %d nodes; the full size is %d jobs at %s on %d nodes).\n\n",
			s.jobs, joinInts(s.levels), s.nodes, fullScale.jobs, joinInts(fullScale.levels), fullScale.nodes)
	}
	fmt.Fprintf(&b, `Measured by `+"`make bench-scale`"+` (`+"`e2e/scale_test.go`"+`), on a KWOK cluster of its own with %d
simulated nodes: %d jobs at each concurrency, each driven as gitlab-runner
drives it (config, prepare, five stages printing %d bytes each, cleanup; the
job's image and one service) by as many workers as the concurrency, each
running one job's k8sdrv calls after another. Every stage's output is
checked byte for byte.

* Date: %s, the whole run %s
* Machine: %d cores (%s), %s, %s
* Load average (1, 5, 15 min) at the start: %s; at the end: %s (the
  run's own processes included)
* %s
* The idle cluster, measured for 10 s after the last level: %.1f API requests/s (%s)

`, s.nodes, s.jobs, len(mustStageOutput()), r.started.Format("2006-01-02 15:04 UTC"), r.elapsed.Round(time.Second),
		r.machine.cores, r.machine.cpu, r.machine.memory, r.machine.kernel, r.machine.loadStart, r.loadEnd,
		r.version, r.idle.total, topRequests(r.idle.perSecond, 3, "%s %.1f/s"))
	b.WriteString(r.table())
	b.WriteString("\nAPI requests per job by verb and resource: `apiserver_request_total` read from\n" +
		"the API server's `/metrics` before and after each level, the difference divided\n" +
		"by the jobs. It counts the whole cluster, so it holds what the scheduler,\n" +
		"the controllers and kwok do for the jobs' pods and the idle rate above;\n" +
		"the second column says whether k8sdrv may make the request at all (its\n" +
		"permissions, from its `// kubeAPI:` comments, allow it): where it says yes,\n" +
		"others may make it too. k8sdrv's own requests are counted exactly, by a\n" +
		"proxy, in the table \"API requests per job\" above.\n\n")
	b.WriteString(r.requestTable())
	b.WriteString("\nAnswers with a code of 400 or above, per job:\n\n")
	for _, l := range r.levels {
		fmt.Fprintf(&b, "* concurrency %d: %s\n", l.concurrency, perJob(l.requests.errors, l.jobs))
	}
	b.WriteString("\n![stage latency against concurrency](bench-scale.svg)\n\n")
	b.WriteString(scaleNotes)
	return b.String()
}

// table is the per-level results table.
func (r scaleReport) table() string {
	var b strings.Builder
	b.WriteString("| concurrency | jobs | jobs per minute | prepare p50 / p95 / p99 | of which the scheduler p50 / p95 | stage p50 / p95 / p99 | failures | pods left | k8sdrv CPU-s per job | k8sdrv peak RSS per job (median / max) | API requests per job (errors) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, l := range r.levels {
		fmt.Fprintf(&b, "| %d | %d | %.1f | %s / %s / %s | %s / %s | %s / %s / %s | %d | %d | %.3f | %.1f / %.1f MiB | %.1f (%.0f) |\n",
			l.concurrency, l.jobs, l.jobsPerMinute(),
			ms(percentile(l.prepare, 50)), ms(percentile(l.prepare, 95)), ms(percentile(l.prepare, 99)),
			ms(percentile(l.scheduled, 50)), ms(percentile(l.scheduled, 95)),
			ms(percentile(l.stage, 50)), ms(percentile(l.stage, 95)), ms(percentile(l.stage, 99)),
			l.failures, l.left, l.cpuPerJob.Seconds(), float64(l.rssMedian)/1024, float64(l.rssMax)/1024,
			l.requests.total()/float64(l.jobs), sum(l.requests.errors))
	}
	return b.String()
}

// requestTable has a row per request seen at any level, k8sdrv's first.
func (r scaleReport) requestTable() string {
	seen := map[string]bool{}
	for _, l := range r.levels {
		for k := range l.requests.byRequest {
			seen[k] = true
		}
	}
	keys := slices.SortedFunc(maps.Keys(seen), func(a, b string) int {
		if r.k8sdrv[a] != r.k8sdrv[b] {
			if r.k8sdrv[a] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	b.WriteString("| request | k8sdrv may make it |")
	for _, l := range r.levels {
		fmt.Fprintf(&b, " concurrency %d |", l.concurrency)
	}
	b.WriteString("\n| --- | --- |" + strings.Repeat(" --- |", len(r.levels)) + "\n")
	for _, k := range keys {
		who := "no"
		if r.k8sdrv[k] {
			who = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s |", k, who)
		for _, l := range r.levels {
			fmt.Fprintf(&b, " %.2f |", l.requests.byRequest[k]/float64(l.jobs))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// perJob lists counts divided by jobs, most frequent first.
func perJob(counts map[string]float64, jobs int) string {
	if len(counts) == 0 {
		return "none"
	}
	rates := map[string]float64{}
	for k, v := range counts {
		rates[k] = v / float64(jobs)
	}
	return topRequests(rates, len(rates), "%s %.2f")
}

func mustStageOutput() string {
	_, want := scaleStageOutput(scaleStages[0])
	return want
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// topRequests names the n most frequent requests of rates, each formatted
// with format (the name, then the rate).
func topRequests(rates map[string]float64, n int, format string) string {
	keys := slices.SortedFunc(maps.Keys(rates), func(a, b string) int {
		if rates[a] != rates[b] {
			if rates[a] > rates[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf(format, k, rates[k]))
	}
	return strings.Join(parts, ", ")
}

// permissionLine matches an entry of driver/permissions_gen.go, which
// `go test ./examples -run TestDoctor -update` writes from the
// `// kubeAPI:` comments.
var permissionLine = regexp.MustCompile(`resource: "([^"]+)", verb: "([^"]+)"`)

// k8sdrvRequests reads driver/permissions_gen.go's permissions as the API
// server's metrics name the requests they allow ("POST pods", "CONNECT
// pods/exec"), and the resources k8sdrv creates objects of.
func k8sdrvRequests(source string) (requests map[string]bool, created []string) {
	metricVerb := map[string]string{"create": "POST", "get": "GET", "list": "LIST", "watch": "WATCH", "delete": "DELETE", "update": "PUT", "patch": "PATCH"}
	requests = map[string]bool{}
	for _, m := range permissionLine.FindAllStringSubmatch(source, -1) {
		resource, verb := m[1], m[2]
		if strings.HasSuffix(resource, "/exec") || strings.HasSuffix(resource, "/attach") || strings.HasSuffix(resource, "/portforward") {
			requests["CONNECT "+resource] = true
			continue
		}
		requests[metricVerb[verb]+" "+resource] = true
		if verb == "create" && !strings.Contains(resource, "/") {
			created = append(created, resource)
		}
	}
	return requests, created
}

// niceCeil is the smallest of 1, 2 and 5 times a power of ten that is at
// least v: an axis maximum.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
