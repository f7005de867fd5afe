package e2e

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// Unit tests of make bench-scale's parts that need no cluster.

func TestScaleSettingsFrom(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	s, err := scaleSettingsFrom(env(nil))
	assert.NilError(t, err)
	assert.Assert(t, s.full())
	s, err = scaleSettingsFrom(env(map[string]string{"K8SDRV_SCALE_JOBS": "20", "K8SDRV_SCALE_LEVELS": "5, 10", "K8SDRV_SCALE_DOC": "x.md"}))
	assert.NilError(t, err)
	assert.DeepEqual(t, []any{s.jobs, s.levels, s.nodes, s.doc, s.full()}, []any{20, []int{5, 10}, 100, "x.md", false})
	_, err = scaleSettingsFrom(env(map[string]string{"K8SDRV_SCALE_JOBS": "0", "K8SDRV_SCALE_NODES": "many", "K8SDRV_SCALE_LEVELS": "5,-1"}))
	assert.Error(t, err, `K8SDRV_SCALE_JOBS="0": want a positive whole number`+"\n"+
		`K8SDRV_SCALE_NODES="many": want a positive whole number`+"\n"+
		`K8SDRV_SCALE_LEVELS="5,-1": "-1" is not a positive whole number`)
}

func TestScaleStageOutputIsAFewKiB(t *testing.T) {
	commands, want := scaleStageOutput("build_script")
	assert.Assert(t, len(want) > 3<<10 && len(want) < 8<<10, "%d bytes", len(want))
	assert.Assert(t, is.Contains(commands, "build_script line %02d"))
	assert.Assert(t, strings.HasPrefix(want, "build_script line 01 xxx"))
	assert.Assert(t, strings.HasSuffix(want, "build_script line 48 "+strings.Repeat("x", 60)+"\n"))
}

func TestParseGNUTime(t *testing.T) {
	ru, err := parseGNUTime("0.03 0.01 18272\n")
	assert.NilError(t, err)
	assert.Equal(t, ru, rusage{cpu: 40 * time.Millisecond, maxRSS: 18272})
	ru, err = parseGNUTime("Command exited with non-zero status 1\n0.50 0.25 20000\n")
	assert.NilError(t, err)
	assert.Equal(t, ru, rusage{cpu: 750 * time.Millisecond, maxRSS: 20000})
	_, err = parseGNUTime("Command terminated by signal 9\n")
	assert.ErrorContains(t, err, "want user and system seconds and KiB")
}

const metricsSample = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="101",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="exec",verb="CONNECT",version="v1"} 50
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 3
apiserver_request_total{code="200",component="a\"b\\c",dry_run="",group="",resource="events",scope="namespace",subresource="",verb="LIST",version="v1"} 1.5e+01
apiserver_request_duration_seconds_bucket{resource="pods",verb="POST",le="0.1"} 99
`

func TestParseRequestTotals(t *testing.T) {
	before, err := parseRequestTotals(metricsSample)
	assert.NilError(t, err)
	assert.DeepEqual(t, before.byRequest, map[string]float64{"POST pods": 12, "CONNECT pods/exec": 50, "PUT leases": 7, "LIST events": 15})
	assert.DeepEqual(t, before.errors, map[string]float64{"POST pods 409": 2})
	after, err := parseRequestTotals(strings.Replace(metricsSample, `verb="PUT",version="v1"} 7`, `verb="PUT",version="v1"} 9`, 1))
	assert.NilError(t, err)
	diff := after.minus(before)
	assert.DeepEqual(t, diff.byRequest, map[string]float64{"PUT leases": 2})
	assert.DeepEqual(t, diff.errors, map[string]float64{})
	assert.Equal(t, diff.total(), 2.0)

	_, err = parseRequestTotals("apiserver_request_total{code=\"200\n")
	assert.ErrorContains(t, err, "unterminated label value")
	_, err = parseRequestTotals("process_cpu_seconds_total 3\n")
	assert.ErrorContains(t, err, "no apiserver_request_total samples")
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, percentile(d, 50), 100*time.Millisecond)
	assert.Equal(t, percentile(d, 95), 190*time.Millisecond)
	assert.Equal(t, percentile(d, 99), 198*time.Millisecond)
	assert.Equal(t, percentile(d[:1], 99), time.Millisecond)
	assert.Equal(t, percentile(nil, 50), time.Duration(0))
}

func TestReplaceSection(t *testing.T) {
	section := scaleBegin + "\nnew\n" + scaleEnd + "\n"
	doc, err := replaceSection("# Benchmarks\n\ntext\n", section)
	assert.NilError(t, err)
	assert.Equal(t, doc, "# Benchmarks\n\ntext\n\n"+section)
	doc, err = replaceSection("# B\n\n"+scaleBegin+"\nold\nlines\n"+scaleEnd+"\n\nafter\n", section)
	assert.NilError(t, err)
	assert.Equal(t, doc, "# B\n\n"+section+"\nafter\n")
	_, err = replaceSection("# B\n"+scaleEnd+"\n", section)
	assert.ErrorContains(t, err, "markers are damaged")
}

// TestK8sdrvRequests reads the real driver/permissions_gen.go: the scale
// report's "k8sdrv's" column and podsLeft's kinds depend on it.
func TestK8sdrvRequests(t *testing.T) {
	source, err := os.ReadFile("../driver/permissions_gen.go")
	assert.NilError(t, err)
	requests, created := k8sdrvRequests(string(source))
	for _, want := range []string{"POST pods", "WATCH pods", "DELETE pods", "LIST events", "CONNECT pods/exec"} {
		assert.Assert(t, requests[want], "%s missing from %v", want, requests)
	}
	assert.Assert(t, !requests["POST pods/exec"])
	assert.DeepEqual(t, created, []string{"namespaces", "pods", "poddisruptionbudgets"})
}

func TestLatencyPlot(t *testing.T) {
	levels := []levelResult{
		{concurrency: 50, jobs: 10, stage: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 90 * time.Millisecond}},
		{concurrency: 100, jobs: 10, stage: []time.Duration{30 * time.Millisecond, 40 * time.Millisecond, 300 * time.Millisecond}},
	}
	svg := latencyPlot(levels)
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	var polylines []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		assert.NilError(t, err, "the SVG is not well-formed XML")
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			for _, a := range el.Attr {
				if a.Name.Local == "points" {
					polylines = append(polylines, a.Value)
				}
			}
		}
	}
	// The axes, then p50, p95 and p99 with a point per level. The plot
	// area is 440 x 310 from (70, 40); y goes to 500 ms (the p99 of 300 ms
	// rounded up), x to 100: p50 20 ms at concurrency 50 is (290, 337.6).
	assert.Equal(t, len(polylines), 4)
	assert.Equal(t, polylines[1], "290.0,337.6 510.0,325.2")
	assert.Equal(t, polylines[3], "290.0,294.2 510.0,164.0")
	assert.Assert(t, is.Contains(string(svg), "(10 jobs per level, 6 stages in all)"))
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 7: 10, 120: 200, 2000: 2000, 2001: 5000} {
		assert.Equal(t, niceCeil(v), want, "niceCeil(%g)", v)
	}
}

func TestScheduledAfter(t *testing.T) {
	line := "Created pod default/p\nPod default/p running after 3.4s: scheduled after 2.5s; containers running: build 0.9s\n"
	assert.Equal(t, scheduledAfter(line), 2500*time.Millisecond)
	assert.Equal(t, scheduledAfter("Created pod default/p\n"), time.Duration(0))
}
