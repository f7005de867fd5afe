package e2e

import (
	"fmt"
	"html"
	"strings"
)

// The plot of make bench-scale: stage latency (p50, p95, p99) against
// concurrency, an SVG written with the standard library alone.

const (
	plotWidth, plotHeight = 640, 400
	plotLeft, plotRight   = 70, 130 // margins; the legend sits on the right
	plotTop, plotBottom   = 40, 50
)

// plotSeries are the lines of the plot: a percentile of a level's stage
// latencies and its colour.
var plotSeries = []struct {
	name       string
	percentile int
	colour     string
}{
	{"p50", 50, "#1f77b4"},
	{"p95", 95, "#ff7f0e"},
	{"p99", 99, "#d62728"},
}

// latencyPlot draws the stage latency of each level against its
// concurrency; both axes start at 0.
func latencyPlot(levels []levelResult) []byte {
	maxX, maxY := 1.0, 1.0
	for _, l := range levels {
		maxX = max(maxX, float64(l.concurrency))
		maxY = max(maxY, float64(percentile(l.stage, 99).Milliseconds()))
	}
	maxX, maxY = niceCeil(maxX), niceCeil(maxY)
	innerW := float64(plotWidth - plotLeft - plotRight)
	innerH := float64(plotHeight - plotTop - plotBottom)
	x := func(v float64) float64 { return plotLeft + v/maxX*innerW }
	y := func(v float64) float64 { return plotTop + innerH - v/maxY*innerH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotWidth, plotHeight)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">%s</text>`+"\n", plotLeft,
		html.EscapeString(plotTitle(levels)))
	for i := 0; i <= 5; i++ {
		vx, vy := maxX*float64(i)/5, maxY*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(0), y(vy), x(maxX), y(vy))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", x(0)-6, y(vy)+4, vy)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x(vx), y(0)+18, vx)
	}
	fmt.Fprintf(&b, `<polyline points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="black"/>`+"\n",
		x(0), y(maxY), x(0), y(0), x(maxX), y(0))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">concurrent jobs (driver processes)</text>`+"\n",
		x(maxX/2), plotHeight-10)
	fmt.Fprintf(&b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">stage latency, ms</text>`+"\n",
		y(maxY/2), y(maxY/2))
	for i, s := range plotSeries {
		var points []string
		for _, l := range levels {
			px, py := x(float64(l.concurrency)), y(float64(percentile(l.stage, s.percentile).Milliseconds()))
			points = append(points, fmt.Sprintf("%.1f,%.1f", px, py))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px, py, s.colour)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(points, " "), s.colour)
		ly := plotTop + 10 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n",
			plotWidth-plotRight+15, ly, plotWidth-plotRight+40, ly, s.colour)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", plotWidth-plotRight+46, ly+4, s.name)
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// plotTitle says what was measured: jobs per level and the stage count.
func plotTitle(levels []levelResult) string {
	if len(levels) == 0 {
		return "k8sdrv stage latency: no levels measured"
	}
	stages := 0
	for _, l := range levels {
		stages += len(l.stage)
	}
	return fmt.Sprintf("k8sdrv stage latency against concurrency (%d jobs per level, %d stages in all)",
		levels[0].jobs, stages)
}
