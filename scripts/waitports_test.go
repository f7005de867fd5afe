package scripts

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// freePort returns a TCP port nothing listens on (for now).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	assert.NilError(t, l.Close())
	return port
}

// waitPorts runs waitports.sh on this host, as it travels, under sh.
func waitPorts(t *testing.T, limit int, ports ...int) (string, error) {
	t.Helper()
	args := []string{"-c", WaitPorts, "k8sdrv-wait", strconv.Itoa(limit)}
	for _, p := range ports {
		args = append(args, strconv.Itoa(p))
	}
	out, err := exec.Command("sh", args...).CombinedOutput()
	return string(out), err
}

// TestWaitPortsSeesListeners: the script reads this host's socket tables
// as it reads a pod's: a port listening on 127.0.0.1 or on every IPv6
// address is ready, a port nothing listens on is not, and the script
// ends after its limit.
func TestWaitPortsSeesListeners(t *testing.T) {
	v4, err := net.Listen("tcp4", "127.0.0.1:0")
	assert.NilError(t, err)
	defer v4.Close()
	v4Port := v4.Addr().(*net.TCPAddr).Port
	ports := []int{v4Port}
	if v6, err := net.Listen("tcp6", "[::]:0"); err == nil { // hosts without IPv6 skip this one
		defer v6.Close()
		ports = append(ports, v6.Addr().(*net.TCPAddr).Port)
	}

	out, err := waitPorts(t, 5, ports...)
	assert.NilError(t, err, out)
	var want strings.Builder
	for _, p := range ports {
		want.WriteString(ReadyLine + " " + strconv.Itoa(p) + "\n")
	}
	assert.Equal(t, out, want.String())

	closed := freePort(t)
	out, err = waitPorts(t, 1, v4Port, closed)
	assert.Check(t, err != nil, "a port that never listens: the script gives up with a non-zero code")
	assert.Check(t, is.Equal(out, ReadyLine+" "+strconv.Itoa(v4Port)+"\n"))
}

// TestWaitPortsIgnoresOtherAddresses: a socket listening only on another
// address than 127.0.0.1 or a wildcard is not reachable by the services'
// aliases, and so not ready.
func TestWaitPortsIgnoresOtherAddresses(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	defer l.Close()
	out, err := waitPorts(t, 1, l.Addr().(*net.TCPAddr).Port)
	assert.Check(t, err != nil)
	assert.Equal(t, out, "")
}
