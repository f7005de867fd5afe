package attach

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/k8sdrv/k8sdrv/scripts"
)

// FuzzResult feeds the stage protocol's parser arbitrary stderr, cut into
// writes wherever cuts says (each byte the length of the next write), as
// an exec stream delivers it: the outcome must not depend on the cuts,
// and an exit code must come from a status line as stage.sh prints it.
func FuzzResult(f *testing.F) {
	for _, seed := range []struct{ stream, cuts string }{
		{"k8sdrv-status 0 0\n", ""},
		{"sh: warning\nk8sdrv-status 42 17\n", "\x03\x09\x05"},
		{"k8sdrv-error not-started\n", "\x01"},
		{"k8sdrv-error incomplete-script got 3 of 9 bytes\nk8sdrv-status 1 2\n", "\x10"},
		{"k8sdrv-status 137 9 extra\nk8sdrv-status x 1\n", "\x00\x02"},
		{"k8sdrv-status 0 4\r\nk8sdrv-status\t0 4\nk8sdrv-status  3   4  \n", "\x07"},
		{"k8sdrv-status 1 99999999999999999999\nk8sdrv-status 0 5", "\x20"},
		{"\n\n\xff\xfek8sdrv-statu", "\x01\x01"},
	} {
		f.Add([]byte(seed.stream), []byte(seed.cuts))
	}
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		whole := parse(t, stream, nil)
		if cut := parse(t, stream, cuts); !sameResult(whole, cut) {
			t.Fatalf("the cuts %v change the result:\nwhole: %s\ncut:   %s", cuts, describe(whole), describe(cut))
		}
		if bytewise := parse(t, stream, []byte{1}); !sameResult(whole, bytewise) {
			t.Fatalf("byte by byte changes the result:\nwhole: %s\nbytes: %s", describe(whole), describe(bytewise))
		}
		checkStatus(t, stream, whole)
	})
}

// parse writes stream to a fresh result in writes of the lengths in
// cuts, taken in turn; no cuts means one write.
func parse(t *testing.T, stream, cuts []byte) *result {
	r := &result{}
	for i := 0; len(stream) > 0; i++ {
		n := len(stream)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)]))
		}
		if i > 10*len(stream)+len(cuts) {
			n = len(stream) // cuts of zero only: finish in one write
		}
		written, err := r.Write(stream[:n])
		if err != nil || written != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, written, err)
		}
		stream = stream[n:]
	}
	return r
}

func sameResult(a, b *result) bool {
	return a.status == b.status && a.size == b.size && a.done == b.done &&
		a.failure == b.failure && bytes.Equal(a.other.Bytes(), b.other.Bytes())
}

func describe(r *result) string {
	return "done=" + strconv.FormatBool(r.done) + " status=" + strconv.Itoa(r.status) +
		" size=" + strconv.FormatInt(r.size, 10) + " failure=" + strconv.Quote(r.failure) +
		" other=" + strconv.Quote(r.other.String())
}

// checkStatus holds an exit code to the last well-formed status line of
// the stream's complete lines: "k8sdrv-status CODE LOGSIZE", two unsigned
// decimal numbers (the shell's $? and wc -c's count), separated by white
// space as some wc implementations pad their count.
func checkStatus(t *testing.T, stream []byte, r *result) {
	t.Helper()
	lines := strings.Split(string(stream), "\n")
	var want *result
	for _, line := range lines[:len(lines)-1] { // the last is unfinished
		if s, ok := wellFormedStatus(line); ok {
			want = s
		}
	}
	switch {
	case want == nil && r.done:
		t.Fatalf("exit code %d without a well-formed status line in %q", r.status, stream)
	case want != nil && (!r.done || r.status != want.status || r.size != want.size):
		t.Fatalf("%s, want the last status line's code %d and size %d", describe(r), want.status, want.size)
	}
}

func wellFormedStatus(line string) (*result, bool) {
	rest, ok := strings.CutPrefix(line, scripts.StatusLine+" ")
	if !ok {
		return nil, false
	}
	fields := strings.Fields(rest)
	if len(fields) != 2 || !digits(fields[0]) || !digits(fields[1]) {
		return nil, false
	}
	code, err1 := strconv.Atoi(fields[0])
	size, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &result{status: code, size: size}, true
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
