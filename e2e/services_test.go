package e2e

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// On KWOK, an exec runs on this host, so the port check that prepare
// runs in the helper container reads this host's socket tables: a
// listener the test opens stands in for a service. That tests the check,
// its one exec and the job log line; whether a real service's socket is
// seen from the helper (one network namespace per pod) is the real
// node's test below. KWOK never runs the service containers themselves.

// hostPort returns a TCP port on this host that nothing listens on.
func hostPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	assert.NilError(t, l.Close())
	return port
}

// listenLater opens port on 127.0.0.1 after delay, until the test ends,
// and reports whether it has.
func listenLater(t *testing.T, port int, delay time.Duration) *atomic.Bool {
	t.Helper()
	var open atomic.Bool
	timer := time.AfterFunc(delay, func() {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("listen on %d: %v", port, err)
			return
		}
		open.Store(true)
		t.Cleanup(func() { _ = l.Close() })
	})
	t.Cleanup(func() { timer.Stop() })
	return &open
}

// healthchecked is a job service whose HEALTHCHECK_TCP_PORT is port.
func healthchecked(image, alias string, port int) map[string]any {
	return map[string]any{"name": image, "alias": alias,
		"variables": []map[string]any{{"key": "HEALTHCHECK_TCP_PORT", "value": strconv.Itoa(port)}}}
}

// TestIntegrationServicePortWaitedFor: prepare ends only once the
// service's port listens, and says after how long.
func TestIntegrationServicePortWaitedFor(t *testing.T) {
	requireKWOK(t, "a listener on this host stands in for the service")
	port := hostPort(t)
	open := listenLater(t, port, 3*time.Second)
	j := newJob(t, jobOptions{response: map[string]any{"services": []map[string]any{
		healthchecked("registry.example.com/db:1", "db", port),
		{"name": "registry.example.com/cache:1"}, // no port: not waited for
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, open.Load(), "prepare ended before the port listened")
	assert.Check(t, is.Regexp(`(?m)^Services listening after [0-9.]+s: db \(registry.example.com/db:1\) on port `+strconv.Itoa(port)+` after [0-9.]+s$`, r.stderr))
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationServicePortNeverListens: a service whose port never
// listens fails prepare after wait_for_services_timeout as the job's
// failure, naming the service and the port; its pod is gone.
func TestIntegrationServicePortNeverListens(t *testing.T) {
	requireKWOK(t, "on this host's network nothing listens on the port")
	port := hostPort(t)
	j := newJob(t, jobOptions{config: "wait_for_services_timeout = 2", response: map[string]any{"services": []map[string]any{
		healthchecked("registry.example.com/db:1", "db", port),
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 1, r.stderr) // BUILD_FAILURE_EXIT_CODE
	assert.Check(t, is.Contains(r.stderr, "ERROR: k8sdrv: service db (registry.example.com/db:1) did not listen on port "+strconv.Itoa(port)+" within wait_for_services_timeout (2s)\n"))
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationServicesOff: wait_for_services_timeout = -1 does not
// wait, whatever the services' ports.
func TestIntegrationServicesOff(t *testing.T) {
	requireKWOK(t, "on this host's network nothing listens on the port")
	j := newJob(t, jobOptions{config: "wait_for_services_timeout = -1", response: map[string]any{"services": []map[string]any{
		healthchecked("registry.example.com/db:1", "db", hostPort(t)),
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Check(t, !strings.Contains(r.stderr, "Services listening"), r.stderr)
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationAPIRequestsOfServices: waiting for a service costs
// prepare one request, its exec; a job whose services have no ports
// costs what a job without services does.
func TestIntegrationAPIRequestsOfServices(t *testing.T) {
	requireKWOK(t, "a listener on this host stands in for the service")
	port := hostPort(t)
	listenLater(t, port, 0)
	prepareRequests := func(services []map[string]any) (int, []string) {
		proxy := newCountingProxy(t)
		j := newJob(t, jobOptions{response: map[string]any{"services": services}})
		j.kubeconfig = proxy.kubeconfig(t)
		r := j.call("prepare")
		assert.Equal(t, r.code, 0, r.stderr)
		counts, total := proxy.snapshot()
		assert.Equal(t, j.call("cleanup").code, 0)
		return total, counts
	}
	plain, plainCounts := prepareRequests(nil)
	unwaited, unwaitedCounts := prepareRequests([]map[string]any{{"name": "registry.example.com/cache:1"}})
	waited, waitedCounts := prepareRequests([]map[string]any{healthchecked("registry.example.com/db:1", "db", port)})
	t.Logf("prepare's requests: without services %d (%v), a service without ports %d (%v), a service waited for %d (%v)",
		plain, plainCounts, unwaited, unwaitedCounts, waited, waitedCounts)
	assert.Check(t, unwaited <= plain, "a service without ports costs %d requests more", unwaited-plain)
	assert.Check(t, waited <= plain+1, "waiting for a service costs %d requests more", waited-plain)
	execs := 0
	for _, c := range waitedCounts {
		if strings.HasSuffix(c, " pods/exec=1") { // get over WebSocket, exec over SPDY
			execs++
		}
	}
	assert.Check(t, execs == 1, "prepare's requests: %v", waitedCounts)
}

// busyboxService is a job service running sh in the busybox image.
func busyboxService(alias, script string, port int) map[string]any {
	s := healthchecked(envOr("K8SDRV_E2E_BUSYBOX_IMAGE", "k8sdrv.local/busybox:1"), alias, port)
	s["entrypoint"] = []string{"sh", "-c", script}
	return s
}

// TestRealServiceWaitedFor: a service that takes 3 s to listen is waited
// for, so that the first stage reaches it at once.
func TestRealServiceWaitedFor(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{response: map[string]any{"services": []map[string]any{
		busyboxService("web", "sleep 3; exec httpd -f -p 8080", 8080),
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Check(t, is.Regexp(`(?m)^Services listening after [0-9.]+s: web \(.*busybox.*\) on port 8080 after [0-9.]+s$`, r.stderr))
	r = j.run("build_script", "exec 3<>/dev/tcp/web/8080\nprintf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3\nhead -c 7 <&3; echo\n")
	assert.Equal(t, r.code, 0, r.stdout+r.stderr)
	assert.Equal(t, r.stdout, "HTTP/1.\n") // busybox httpd answers with 1.1
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealServiceExits: a service that exits fails prepare with its exit
// code, reason and last log lines, as the job's failure.
func TestRealServiceExits(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{response: map[string]any{"services": []map[string]any{
		busyboxService("db", "echo starting; echo 'fatal: no configuration' >&2; sleep 1; exit 3", 5432),
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Check(t, is.Regexp(`ERROR: k8sdrv: service db \(.*busybox.*\) failed before the job's stages could start: container svc-0 terminated: exit code 3, reason Error`, r.stderr))
	// The kubelet keeps stdout and stderr apart, so lines written within
	// the same instant may come back in either order.
	assert.Check(t, is.Contains(r.stderr, "  starting\n"))
	assert.Check(t, is.Contains(r.stderr, "  fatal: no configuration\n"))
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealServiceNeverListens: a service that runs but never listens on
// its port fails prepare after wait_for_services_timeout, naming it.
func TestRealServiceNeverListens(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{config: "wait_for_services_timeout = 3", response: map[string]any{"services": []map[string]any{
		busyboxService("db", "echo waiting forever; exec sleep 600", 9999),
	}}})
	r := j.call("prepare")
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Check(t, is.Regexp(`ERROR: k8sdrv: service db \(.*busybox.*\) did not listen on port 9999 within wait_for_services_timeout \(3s\)`, r.stderr))
	assert.Check(t, is.Contains(r.stderr, "  waiting forever\n"))
	assert.Equal(t, j.call("cleanup").code, 0)
}
