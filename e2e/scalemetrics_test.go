package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// rusage is what GNU time reports of one process.
type rusage struct {
	cpu    time.Duration // user + system
	maxRSS int64         // KiB
}

// underGNUTime makes cmd run its program under GNU time, which writes the
// program's own rusage to out; read parses it once cmd has ended. (The
// rusage of a child of the test process itself would not do: a child
// forked from a large process inherits its resident size until exec, and
// Linux keeps that in the child's maximum.)
func underGNUTime(cmd *exec.Cmd, out string) (read func() (rusage, error)) {
	const gnuTime = "/usr/bin/time"
	cmd.Args = append([]string{gnuTime, "-f", "%U %S %M", "-o", out}, cmd.Args...)
	cmd.Path = gnuTime
	return func() (rusage, error) {
		data, err := os.ReadFile(out)
		if err != nil {
			return rusage{}, fmt.Errorf("GNU time (apt-get install time): %w", err)
		}
		return parseGNUTime(string(data))
	}
}

// parseGNUTime reads "%U %S %M" (seconds, seconds, KiB) from the last line
// of GNU time's output; it puts "Command exited with non-zero status N"
// before it.
func parseGNUTime(text string) (rusage, error) {
	fields := strings.Fields(lastLine(text))
	if len(fields) != 3 {
		return rusage{}, fmt.Errorf("GNU time wrote %q, want user and system seconds and KiB", text)
	}
	user, err1 := strconv.ParseFloat(fields[0], 64)
	sys, err2 := strconv.ParseFloat(fields[1], 64)
	kib, err3 := strconv.ParseInt(fields[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return rusage{}, fmt.Errorf("GNU time wrote %q, want user and system seconds and KiB", text)
	}
	return rusage{cpu: time.Duration((user + sys) * float64(time.Second)), maxRSS: kib}, nil
}

// requestCounts are apiserver_request_total summed by verb and resource
// ("LIST pods", "CONNECT pods/exec"; the API server's own verb names), and
// the answers with a code of 400 or above by verb, resource and code
// ("DELETE pods 404"). Requests for non-resource URLs (/metrics, /healthz)
// are left out.
type requestCounts struct {
	byRequest map[string]float64
	errors    map[string]float64
}

// parseRequestTotals reads apiserver_request_total from the API server's
// Prometheus text exposition.
func parseRequestTotals(text string) (requestCounts, error) {
	const metric = "apiserver_request_total{"
	c := requestCounts{byRequest: map[string]float64{}, errors: map[string]float64{}}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, metric)
		if !ok {
			continue
		}
		labels, value, err := parseSample(rest)
		if err != nil {
			return c, fmt.Errorf("apiserver_request_total: %w in %q", err, line)
		}
		if labels["resource"] == "" {
			continue
		}
		key := labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		c.byRequest[key] += value
		if code, _ := strconv.Atoi(labels["code"]); code >= 400 {
			c.errors[key+" "+labels["code"]] += value
		}
	}
	if len(c.byRequest) == 0 {
		return c, fmt.Errorf("no apiserver_request_total samples")
	}
	return c, nil
}

// parseSample reads `name="value",...} number` (the part of a sample after
// its metric's opening brace).
func parseSample(s string) (map[string]string, float64, error) {
	labels := map[string]string{}
	for !strings.HasPrefix(s, "}") {
		name, rest, ok := strings.Cut(s, `="`)
		if !ok {
			return nil, 0, fmt.Errorf("label without a quoted value")
		}
		var value strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					value.WriteByte('\n')
					continue
				}
			}
			value.WriteByte(rest[i])
		}
		if i == len(rest) {
			return nil, 0, fmt.Errorf("unterminated label value")
		}
		labels[name] = value.String()
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
	fields := strings.Fields(s[1:])
	if len(fields) == 0 {
		return nil, 0, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return labels, v, err
}

// minus is c less an earlier reading; counters that did not move are left out.
func (c requestCounts) minus(earlier requestCounts) requestCounts {
	return requestCounts{byRequest: subtract(c.byRequest, earlier.byRequest), errors: subtract(c.errors, earlier.errors)}
}

func subtract(later, earlier map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range later {
		if n := v - earlier[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

func (c requestCounts) total() float64 { return sum(c.byRequest) }

func sum(m map[string]float64) float64 {
	total := 0.0
	for _, v := range m {
		total += v
	}
	return total
}

// apiRequests reads the API server's request counters from its /metrics.
func apiRequests(t *testing.T) requestCounts {
	t.Helper()
	data, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	assert.NilError(t, err)
	c, err := parseRequestTotals(string(data))
	assert.NilError(t, err)
	return c
}

// idleRate is what the idle cluster asks of its API server (node
// heartbeats, leases, controllers), per second.
type idleRate struct {
	perSecond map[string]float64
	total     float64
}

// idleRequestRate measures the idle cluster's requests over d.
func idleRequestRate(t *testing.T, d time.Duration) idleRate {
	before := apiRequests(t)
	time.Sleep(d)
	diff := apiRequests(t).minus(before)
	r := idleRate{perSecond: map[string]float64{}, total: diff.total() / d.Seconds()}
	for k, v := range diff.byRequest {
		r.perSecond[k] = v / d.Seconds()
	}
	return r
}

// podsLeft counts k8sdrv's pods (by its managed-by label) in every
// namespace, once those being deleted are gone or 60 s have passed.
func podsLeft(t *testing.T) int {
	t.Helper()
	selector := metav1.ListOptions{LabelSelector: podbuilder.LabelManagedBy + "=" + podbuilder.ManagedBy}
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := kube.CoreV1().Pods("").List(context.Background(), selector)
		assert.NilError(t, err)
		terminating := 0
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				terminating++
			} else {
				t.Logf("left: pod %s/%s (%s)", p.Namespace, p.Name, p.Status.Phase)
			}
		}
		if terminating == 0 || time.Now().After(deadline) {
			return len(list.Items)
		}
		time.Sleep(time.Second)
	}
}

// machine is what the report says of the host, from /proc.
type machine struct {
	cpu       string
	cores     int
	memory    string
	kernel    string
	loadStart string
}

func readMachine() (machine, error) {
	var m machine
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		key, value, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(key) {
		case "processor":
			m.cores++
		case "model name":
			m.cpu = strings.TrimSpace(value)
		}
	}
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(meminfo), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			m.memory = fmt.Sprintf("%.1f GiB", kib/(1<<20))
		}
	}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return m, err
	}
	m.kernel = "Linux " + strings.TrimSpace(string(release))
	m.loadStart, err = loadAverage()
	return m, err
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() (string, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "", fmt.Errorf("/proc/loadavg: %q", data)
	}
	return strings.Join(f[:3], " "), nil
}

// binaryVersion is the first line of `k8sdrv --version`.
func binaryVersion(t *testing.T) string {
	out, err := exec.Command(binary, "--version").Output()
	assert.NilError(t, err)
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

// levelResult is one concurrency level, summarized.
type levelResult struct {
	concurrency, jobs int
	wall              time.Duration
	prepare, stage    []time.Duration // sorted
	scheduled         []time.Duration // sorted: the scheduler's part of prepare
	failures          int
	firstFailures     []string
	left              int
	cpuPerJob         time.Duration // mean
	rssMedian, rssMax int64         // KiB, of the jobs' largest k8sdrv process
	requests          requestCounts
}

func summarize(concurrency int, wall time.Duration, records []jobRecord, requests requestCounts, left int) levelResult {
	l := levelResult{concurrency: concurrency, jobs: len(records), wall: wall, requests: requests, left: left}
	var cpu time.Duration
	var rss []int64
	for _, r := range records {
		if r.prepare > 0 {
			l.prepare = append(l.prepare, r.prepare)
			l.scheduled = append(l.scheduled, r.scheduled)
		}
		l.stage = append(l.stage, r.stages...)
		cpu += r.cpu
		rss = append(rss, r.maxRSS)
		if r.failure != "" {
			l.failures++
			if len(l.firstFailures) < 10 {
				l.firstFailures = append(l.firstFailures, r.failure)
			}
		}
	}
	slices.Sort(l.prepare)
	slices.Sort(l.scheduled)
	slices.Sort(l.stage)
	slices.Sort(rss)
	if len(records) > 0 {
		l.cpuPerJob = cpu / time.Duration(len(records))
		l.rssMedian, l.rssMax = rss[len(rss)/2], rss[len(rss)-1]
	}
	return l
}

// percentile is the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func (l levelResult) jobsPerMinute() float64 {
	return float64(l.jobs) / l.wall.Minutes()
}

func (l levelResult) summary() string {
	s := fmt.Sprintf("concurrency %d: %d jobs in %s (%.0f/min), prepare p50 %s p95 %s p99 %s (scheduler p50 %s), stage p50 %s p95 %s p99 %s, %d failed, %d pods left, %.3f CPU-s and %d MiB peak RSS per job, %.1f API requests per job",
		l.concurrency, l.jobs, l.wall.Round(time.Second), l.jobsPerMinute(),
		ms(percentile(l.prepare, 50)), ms(percentile(l.prepare, 95)), ms(percentile(l.prepare, 99)), ms(percentile(l.scheduled, 50)),
		ms(percentile(l.stage, 50)), ms(percentile(l.stage, 95)), ms(percentile(l.stage, 99)),
		l.failures, l.left, l.cpuPerJob.Seconds(), l.rssMax>>10, l.requests.total()/float64(l.jobs))
	for _, f := range l.firstFailures {
		s += "\n  failed: " + f
	}
	return s
}

func ms(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
