package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"gotest.tools/v3/assert"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// countingProxy is a TLS-terminating reverse proxy in front of the API
// server that counts every request k8sdrv makes, by verb and resource.
type countingProxy struct {
	server *httptest.Server
	conns  *connCounter
	mu     sync.Mutex
	counts map[string]int
}

func newCountingProxy(t *testing.T) *countingProxy {
	target, err := url.Parse(restConfig.Host)
	assert.NilError(t, err)
	transport, err := rest.TransportFor(restConfig) // the harness's own credentials
	assert.NilError(t, err)
	p := &countingProxy{counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		proxy.ServeHTTP(w, r)
	}))
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	p.conns = &connCounter{Listener: listener}
	p.server.Listener = p.conns
	p.server.EnableHTTP2 = true // as the API server does
	p.server.StartTLS()
	t.Cleanup(p.server.Close)
	return p
}

// count files a request under "verb resource", as the API server's
// request metrics would: /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]].
func (p *countingProxy) count(r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) > 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) > 3 && parts[0] == "apis":
		parts = parts[3:]
	}
	if len(parts) > 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	resource, named := parts[0], len(parts) > 1
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	verb := strings.ToLower(r.Method)
	switch {
	case strings.HasSuffix(resource, "/exec"): // GET for WebSocket, POST for SPDY
		verb = "exec"
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		verb = "watch"
	case r.Method == http.MethodGet && named:
		verb = "get"
	case r.Method == http.MethodGet:
		verb = "list"
	case r.Method == http.MethodPost:
		verb = "create"
	}
	p.mu.Lock()
	p.counts[verb+" "+resource]++
	p.mu.Unlock()
}

// kubeconfig writes a kubeconfig that reaches the API server through p.
func (p *countingProxy) kubeconfig(t *testing.T) string {
	caPEM := certPEM(t, p.server.Certificate())
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.server.URL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(t.TempDir(), "kubeconfig-counting")
	assert.NilError(t, clientcmd.WriteToFile(*cfg, path))
	assert.NilError(t, os.Chmod(path, 0o600))
	return path
}

// since returns the counts added after before (an earlier copy of counts).
func (p *countingProxy) since(before map[string]int) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, n := range p.counts {
		if n > before[k] {
			out[k] = n - before[k]
		}
	}
	return out
}

// snapshot returns the counts so far, sorted, and their total.
func (p *countingProxy) snapshot() ([]string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	total := 0
	for k, n := range p.counts {
		lines = append(lines, fmt.Sprintf("%s=%d", k, n))
		total += n
	}
	sort.Strings(lines)
	return lines, total
}

func certPEM(t *testing.T, cert *x509.Certificate) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// TestIntegrationAPIRequestsPerJob counts the API requests of one job
// driven as gitlab-runner drives it (config, prepare, five stages,
// cleanup), by verb and resource, through a counting proxy, and the
// connections of its prepare (one). It reports the
// counts (docs/BENCHMARKS.md takes them from here) and fails above the
// budget of 4 + (number of stages) requests; pod_disruption_budget adds
// one request (the budget's create), namespace_per_job two (the
// namespace's create and delete).
func TestIntegrationAPIRequestsPerJob(t *testing.T) {
	skipShort(t)
	t.Run("default", func(t *testing.T) { apiRequestsPerJob(t, "", 4) })
	t.Run("pod_disruption_budget", func(t *testing.T) { apiRequestsPerJob(t, "pod_disruption_budget = true\n", 5) })
	t.Run("namespace_per_job", func(t *testing.T) { apiRequestsPerJob(t, namespacePerJob, 6) })
}

func apiRequestsPerJob(t *testing.T, config string, fixed int) {
	proxy := newCountingProxy(t)
	j := newJob(t, jobOptions{config: config})
	j.kubeconfig = proxy.kubeconfig(t)
	assert.Equal(t, j.call("config").code, 0)
	proxy.conns.reset()
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	prepare, prepareTotal := proxy.snapshot()
	// The pod's watch and create share one HTTP/2 connection: sent at
	// once, each would dial its own and one would be dropped after its
	// TLS handshake.
	accepted, _ := proxy.conns.counts()
	assert.Equal(t, accepted, 1, "prepare opened %d connections to the API server", accepted)
	stages := []string{"prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"}
	for _, stage := range stages {
		r := j.run(stage, "echo "+stage+"\n")
		assert.Equal(t, r.code, 0, r.stderr)
	}
	_, afterStages := proxy.snapshot()
	r = j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	all, total := proxy.snapshot()
	t.Logf("API requests of one job: %d in all (prepare %d: %s; %d stages %d; cleanup %d); by verb and resource: %s",
		total, prepareTotal, strings.Join(prepare, " "), len(stages), afterStages-prepareTotal, total-afterStages, strings.Join(all, " "))
	// The budget: fixed + (number of stages). A stage shorter than the
	// delay of its pod watch costs its exec alone.
	assert.Assert(t, total <= fixed+len(stages), "the job made %d requests, over the budget of %d", total, fixed+len(stages))
}

// connCounter is a listener that counts the TCP connections clients open
// to it: how many since reset, and the most open at once.
type connCounter struct {
	net.Listener
	mu                   sync.Mutex
	open, peak, accepted int
}

func (c *connCounter) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open++
	c.accepted++
	c.peak = max(c.peak, c.open)
	return &countedConn{Conn: conn, counter: c}, nil
}

// reset starts counting anew: none accepted, the peak what is open now.
func (c *connCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accepted, c.peak = 0, c.open
}

// counts returns the connections accepted since reset and the peak.
func (c *connCounter) counts() (accepted, peak int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.peak
}

type countedConn struct {
	net.Conn
	counter *connCounter
	once    sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.counter.mu.Lock()
		c.counter.open--
		c.counter.mu.Unlock()
	})
	return c.Conn.Close()
}

// measuredRun runs one stage as j.run does and returns, besides its
// result, the peak resident memory of the k8sdrv process in KiB (GNU
// time's, see measuredCommand).
func measuredRun(t *testing.T, j *job, stage, commands string) (result, int64) {
	t.Helper()
	cmd, rss := measuredCommand(t, j, "run", j.stageScript(stage, commands), stage)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(err)}, rss()
}

// TestIntegrationLongStageCostsNoMore runs a short stage and one of
// 60 s (30 minutes under make soak) in one job, through the counting
// proxy. The short stage costs its exec alone; the long one its exec and
// the one watch of its pod that opens 2 s into a stage (stageWatchDelay),
// however long it runs: nothing polls. While it runs k8sdrv holds two TCP
// connections to the API server, never more and never anew: the exec's
// (a WebSocket is an HTTP/1.1 upgrade and gets a connection of its own)
// and the REST client's HTTP/2 connection that carries the watch. The
// peak RSS of both runs is logged for docs/BENCHMARKS.md, not asserted.
func TestIntegrationLongStageCostsNoMore(t *testing.T) {
	skipShort(t)
	long := sized(60, 30*60)
	proxy := newCountingProxy(t)
	j := newJob(t, jobOptions{})
	j.kubeconfig = proxy.kubeconfig(t)
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)

	before := proxy.since(nil)
	r, shortRSS := measuredRun(t, j, "get_sources", "echo short\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.DeepEqual(t, proxy.since(before), map[string]int{"exec pods/exec": 1})

	before = proxy.since(nil)
	proxy.conns.reset()
	r, longRSS := measuredRun(t, j, "build_script", fmt.Sprintf("echo start; sleep %d; echo end\n", long))
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "start\nend\n")
	requests := proxy.since(before)
	accepted, peak := proxy.conns.counts()
	t.Logf("a %d s stage: requests %v, %d TCP connections opened, at most %d open at once; peak RSS of k8sdrv run: %.1f MiB (a short stage: %.1f MiB)",
		long, requests, accepted, peak, float64(longRSS)/1024, float64(shortRSS)/1024)
	assert.DeepEqual(t, requests, map[string]int{"exec pods/exec": 1, "watch pods": 1})
	assert.Equal(t, accepted, 2, "connections opened during the stage")
	assert.Equal(t, peak, 2, "connections open at once during the stage")

	r = j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
}
