package attach

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/podlayout"
)

// shells are the POSIX shells the launcher meets as the containers' sh:
// dash (Debian's sh), busybox (alpine, busybox images) and bash (images
// whose sh is bash), each found on this host or skipped.
var shells = []string{"dash", "busybox", "bash"}

// shExecutor runs commands on the host with sh resolved to shell, the way
// a container whose sh is that shell runs them: sh first on PATH, for the
// launcher and for the supervisor it starts. Under strace (trace, a path
// prefix) it records every process the command starts, one file each.
type shExecutor struct {
	bin   string // holds sh, a link to the shell
	trace string
}

func newShExecutor(t testing.TB, shell string) *shExecutor {
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed on this host", shell)
	}
	bin := t.TempDir()
	assert.NilError(t, os.Symlink(path, filepath.Join(bin, "sh")))
	return &shExecutor{bin: bin}
}

func (e *shExecutor) Exec(ctx context.Context, _ string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	args := append([]string{filepath.Join(e.bin, "sh")}, command[1:]...)
	if e.trace != "" {
		args = append([]string{"strace", "-f", "-ff", "-qq", "-e", "trace=execve", "-o", e.trace}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+e.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

// shortStage is the script of the stage the costs are measured with: one
// line of output, as a short CI stage has.
const shortStage = "echo hi\n"

// BenchmarkShortStageOnHost runs a short stage through the launcher on
// this host, from the exec of the launcher to its exit code: the part of
// a stage's cost that runs inside the container. e2e's BenchmarkRunEmpty
// measures it with the API server's exec round trip and k8sdrv's start-up.
// The stages share a container directory, as a job's stages do.
func BenchmarkShortStageOnHost(b *testing.B) {
	for _, shell := range shells {
		b.Run(shell, func(b *testing.B) {
			e := newShExecutor(b, shell)
			layout := podlayout.New(b.TempDir())
			for i := 0; i < b.N; i++ {
				runShortStage(b, e, layout)
			}
		})
	}
}

// TestShortStageProcessStarts counts, with strace, the processes that a
// short stage starts in its container (the launcher included): the
// container's first stage, which also sets up the container's directory,
// and a later one. A later stage runs only the launcher's shell, head,
// the supervisor (setsid, then sh), the stage's shell, and sleep and cat
// as many times as it polls (once each when the stage ends before the
// first poll): no tool per poll beyond those.
func TestShortStageProcessStarts(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed on this host")
	}
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			e := newShExecutor(t, shell)
			layout := podlayout.New(t.TempDir())
			for _, which := range []string{"first", "later"} {
				traces := t.TempDir()
				e.trace = filepath.Join(traces, "trace")
				runShortStage(t, e, layout)
				processes, programs := traced(t, traces)
				t.Logf("%s, %s stage: %d processes; programs executed: %s", shell, which, processes, strings.Join(programs, " "))
				if which == "later" && shell != "busybox" { // busybox runs its applets as itself
					counts := map[string]int{}
					for _, p := range programs {
						counts[p]++
					}
					// sh twice: the launcher and the supervisor.
					for p, n := range map[string]int{"sh": 2, "head": 1, "setsid": 1, "bash": 1} {
						assert.Equal(t, counts[p], n, "%s: %v", p, programs)
					}
					for p := range counts {
						assert.Assert(t, slices.Contains([]string{"sh", "head", "setsid", "bash", "sleep", "cat"}, p), "%s ran: %v", p, programs)
					}
				}
			}
		})
	}
}

// TestQuietStagePollsLessOften counts, with strace, the poll timers
// (sleeps) of a stage that prints a line and then stays quiet for 2.5 s:
// polls come every 0.2 s only while it prints and twice as far apart after
// each poll that found nothing, so about six, where polls every 0.2 s
// would take about fourteen. The stage's end still comes at once.
func TestQuietStagePollsLessOften(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed on this host")
	}
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			if shell == "busybox" {
				t.Skip("busybox runs its applets as itself: strace sees no sleep")
			}
			e := newShExecutor(t, shell)
			traces := t.TempDir()
			e.trace = filepath.Join(traces, "trace")
			// The script waits with bash's read -t, not sleep, so that
			// every sleep is a poll timer.
			s, out := newStage(t, e, "echo hi; read -r -t 2.5 <> <(:) || true; echo bye\n")
			s.Dirs = podlayout.New(t.TempDir()).Stage("build", "build_script", time.Now())
			start := time.Now()
			code, err := s.Run(context.Background())
			took := time.Since(start)
			assert.NilError(t, err)
			assert.Equal(t, code, 0)
			assert.Equal(t, out.String(), "hi\nbye\n")
			_, programs := traced(t, traces)
			sleeps := 0
			for _, p := range programs {
				if p == "sleep" {
					sleeps++
				}
			}
			t.Logf("%s: %d poll timers in %s", shell, sleeps, took)
			assert.Assert(t, sleeps <= 8, "%d poll timers for a stage of %s", sleeps, took)
		})
	}
}

// runShortStage runs shortStage as the next stage of the container whose
// files are in layout.
func runShortStage(t testing.TB, e Executor, layout podlayout.Layout) {
	s, out := newStage(t, e, shortStage)
	s.Dirs = layout.Stage("build", "build_script", time.Now())
	code, err := s.Run(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, code, 0)
	assert.Equal(t, out.String(), "hi\n")
}

// traced reads strace's per-process files in dir: how many processes
// there were and the programs they executed, by base name, sorted.
func traced(t *testing.T, dir string) (int, []string) {
	files, err := filepath.Glob(filepath.Join(dir, "trace.*"))
	assert.NilError(t, err)
	var programs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		assert.NilError(t, err)
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(line, "execve(\"") || !strings.HasSuffix(line, "= 0") {
				continue
			}
			name := strings.TrimPrefix(line, "execve(\"")
			name = name[:strings.IndexByte(name, '"')]
			programs = append(programs, filepath.Base(name))
		}
	}
	slices.Sort(programs)
	return len(files), programs
}
