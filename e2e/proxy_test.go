package e2e

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"k8s.io/client-go/tools/clientcmd"
)

// cutProxy forwards TCP connections to the API server and can cut all of
// them at once, as a restarting API server does; with an idle limit it also
// closes each connection that carried no byte either way for that long, as
// a load balancer with an idle timeout does.
type cutProxy struct {
	listener  net.Listener
	target    string
	mu        sync.Mutex
	conns     map[net.Conn]bool
	cuts      int
	idleCuts  atomic.Int64
	idleLimit time.Duration
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	return newIdleProxy(t, target, 0)
}

// newIdleProxy is a cutProxy that also closes connections idle for idle
// (0: never).
func newIdleProxy(t *testing.T, target string, idle time.Duration) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	p := &cutProxy{listener: l, target: target, conns: map[net.Conn]bool{}, idleLimit: idle}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *cutProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, server)
		var last atomic.Int64 // unix nanoseconds of the last byte either way
		last.Store(time.Now().UnixNano())
		go p.pipe(client, server, &last)
		go p.pipe(server, client, &last)
		if p.idleLimit > 0 {
			go p.closeWhenIdle(client, server, &last)
		}
	}
}

// closeWhenIdle closes the pair once no byte has passed for idleLimit.
func (p *cutProxy) closeWhenIdle(client, server net.Conn, last *atomic.Int64) {
	tick := time.NewTicker(p.idleLimit / 10)
	defer tick.Stop()
	for range tick.C {
		p.mu.Lock()
		open := p.conns[client]
		p.mu.Unlock()
		if !open {
			return
		}
		if time.Since(time.Unix(0, last.Load())) >= p.idleLimit {
			p.idleCuts.Add(1)
			p.untrack(client, server)
			client.Close()
			server.Close()
			return
		}
	}
}

// pipe copies src to dst, noting the time of every read in last, and
// closes both when either side ends.
func (p *cutProxy) pipe(dst, src net.Conn, last *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.untrack(dst, src)
	dst.Close()
	src.Close()
}

func (p *cutProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

func (p *cutProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = true
	}
}

// cut closes every open connection and returns how many pairs it cut.
func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	p.cuts += n
	return n
}

// kubeconfigVia writes a copy of the test kubeconfig whose server is the
// proxy; TLS still verifies, as the proxy forwards the bytes unchanged.
func (p *cutProxy) kubeconfigVia(t *testing.T) string {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	assert.NilError(t, err)
	for _, cluster := range cfg.Clusters {
		u, err := url.Parse(cluster.Server)
		assert.NilError(t, err)
		u.Host = p.listener.Addr().String()
		cluster.Server = u.String()
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-via-proxy")
	assert.NilError(t, clientcmd.WriteToFile(*cfg, path))
	assert.NilError(t, os.Chmod(path, 0o600))
	return path
}

// apiServerAddress returns host:port of the test cluster's API server.
func apiServerAddress(t *testing.T) string {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	assert.NilError(t, err)
	u, err := url.Parse(cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server)
	assert.NilError(t, err)
	return u.Host
}
