package driver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/podbuilder"
	"github.com/k8sdrv/k8sdrv/scripts"
)

// portProbe runs scripts/waitports.sh in the helper container: one exec
// that reports each port as it starts to listen, so that a job's wait
// for its services costs one API request. A stream that breaks early is
// started again for the ports still missing.
type portProbe struct {
	exec  attach.Executor
	start time.Time

	mu    sync.Mutex
	ready map[int]time.Duration // port → when seen listening
	// broken is why the last exec ended before every port listened,
	// while time was left; scriptError is what the script reported.
	broken      error
	scriptError string
	diagnostic  string // the last line the helper's shell wrote besides
}

func newPortProbe(exec attach.Executor, start time.Time) *portProbe {
	return &portProbe{exec: exec, start: start, ready: map[int]time.Duration{}}
}

// errProbeFailed: the script could not check the ports.
var errProbeFailed = errors.New("the port check failed")

// run waits until every port listens; it returns nil then, ctx's error
// when ctx ends first, errProbeFailed when the script reports that it
// cannot check.
func (p *portProbe) run(ctx context.Context, ports []int) error {
	for {
		missing := p.missing(ports)
		if len(missing) == 0 {
			return nil
		}
		// The script's own limit only ends a probe that nobody reads:
		// k8sdrv's deadline comes first.
		limit := 60
		if deadline, ok := ctx.Deadline(); ok {
			limit = int(math.Ceil(time.Until(deadline).Seconds())) + 2
		}
		cmd := []string{"sh", "-c", scripts.WaitPorts, "k8sdrv-wait", strconv.Itoa(limit)}
		for _, port := range missing {
			cmd = append(cmd, strconv.Itoa(port))
		}
		lines := &attach.Lines{Line: p.take}
		err := p.exec.Exec(ctx, podbuilder.HelperContainer, cmd, nil, io.Discard, lines)
		lines.Flush()
		p.mu.Lock()
		failed := p.scriptError != ""
		if ctx.Err() == nil {
			p.broken = err
		}
		p.mu.Unlock()
		switch {
		case len(p.missing(ports)) == 0:
			return nil
		case failed:
			return errProbeFailed
		case ctx.Err() != nil:
			return ctx.Err()
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return err // asking again cannot help
		}
		sleepCtx(ctx, time.Second)
	}
}

// take takes one line of the script's stderr.
func (p *portProbe) take(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	word, rest, _ := strings.Cut(text, " ")
	switch word {
	case scripts.ReadyLine:
		if port, err := strconv.Atoi(rest); err == nil {
			if _, seen := p.ready[port]; !seen {
				p.ready[port] = time.Since(p.start)
			}
		}
	case scripts.ErrorLine:
		p.scriptError = rest
	default:
		if strings.TrimSpace(text) != "" {
			p.diagnostic = text
		}
	}
}

// missing returns the ports not yet seen listening.
func (p *portProbe) missing(ports []int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, port := range ports {
		if _, ok := p.ready[port]; !ok {
			out = append(out, port)
		}
	}
	return out
}

// readyAfter returns when every port of svc listened, and whether all did.
func (p *portProbe) readyAfter(svc podbuilder.Service) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var last time.Duration
	for _, port := range svc.Ports {
		at, ok := p.ready[port]
		if !ok {
			return 0, false
		}
		last = max(last, at)
	}
	return last, true
}

// line says after how long each service listened, the slowest first:
// "Services listening after 3.1s: db (postgres:16) on 5432 after 3.1s,
// web:1 on 80, 443 after 0.2s". The times count from the pod running.
func (p *portProbe) line(services []podbuilder.Service) string {
	type done struct {
		svc   podbuilder.Service
		after time.Duration
	}
	var all []done
	for _, svc := range services {
		after, _ := p.readyAfter(svc)
		all = append(all, done{svc, after})
	}
	slices.SortStableFunc(all, func(a, b done) int { return cmp.Compare(b.after, a.after) })
	parts := make([]string, 0, len(all))
	for _, d := range all {
		parts = append(parts, fmt.Sprintf("%s on %s after %s", d.svc.Name(), portList(d.svc.Ports), seconds(d.after)))
	}
	return fmt.Sprintf("Services listening after %s: %s", seconds(all[0].after), strings.Join(parts, ", "))
}

// failure is the error of a wait that ended without every port
// listening: the services that did not listen by the deadline (the
// job's failure when one of them is the job's), or why the check itself
// could not run (a system failure).
func (p *portProbe) failure(err error, services []podbuilder.Service, limit time.Duration) error {
	p.mu.Lock()
	scriptError, broken, diagnostic := p.scriptError, p.broken, p.diagnostic
	p.mu.Unlock()
	switch {
	case errors.Is(err, errProbeFailed):
		return fmt.Errorf("cannot check whether the services listen: %s", scriptError)
	case broken != nil:
		return fmt.Errorf("cannot check whether the services listen: exec in container %s: %w", podbuilder.HelperContainer, broken)
	}
	var late []string
	build := false
	for _, svc := range p.late(services) {
		late = append(late, fmt.Sprintf("service %s did not listen on %s", svc.Name(), portList(p.missing(svc.Ports))))
		build = build || svc.Job
	}
	msg := fmt.Sprintf("%s within wait_for_services_timeout (%s)", strings.Join(late, "; "), limit)
	if diagnostic != "" {
		msg += "; the port check said: " + diagnostic
	}
	return &podEnd{build: build, msg: msg}
}

// late returns the services with a port not seen listening.
func (p *portProbe) late(services []podbuilder.Service) []podbuilder.Service {
	var out []podbuilder.Service
	for _, svc := range services {
		if _, ok := p.readyAfter(svc); !ok {
			out = append(out, svc)
		}
	}
	return out
}

// portList writes ports as "port 80" or "ports 80, 443".
func portList(ports []int) string {
	words := make([]string, 0, len(ports))
	for _, p := range ports {
		words = append(words, strconv.Itoa(p))
	}
	if len(words) == 1 {
		return "port " + words[0]
	}
	return "ports " + strings.Join(words, ", ")
}
