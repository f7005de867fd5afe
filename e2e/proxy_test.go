package e2e

import (
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gotest.tools/v3/assert"
	"k8s.io/client-go/tools/clientcmd"
)

// cutProxy forwards TCP connections to the API server and can cut all of
// them at once, as a restarting API server or an idle-killing load
// balancer does.
type cutProxy struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]bool
	cuts     int
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	p := &cutProxy{listener: l, target: target, conns: map[net.Conn]bool{}}
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
		go pipe(client, server)
		go pipe(server, client)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
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
