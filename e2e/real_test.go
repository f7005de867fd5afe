package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The tests here need real containers (make cluster-up CLUSTER=real, then
// K8SDRV_E2E_KUBECONFIG and K8SDRV_E2E_* naming its images): services that
// really serve, volumes shared between containers, enforced limits and
// security contexts.

func requireReal(t *testing.T) {
	t.Helper()
	skipShort(t)
	if kwok {
		t.Skip("needs real containers: KWOK only simulates them (see docs/TESTING.md)")
	}
}

// TestRealServiceByAlias: build_script talks to its redis service by the
// alias the job gave it and gets an answer.
func TestRealServiceByAlias(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{response: map[string]any{"services": []map[string]any{
		{"name": envOr("K8SDRV_E2E_REDIS_IMAGE", "k8sdrv.local/redis:1"), "alias": "cache"},
	}}})
	assert.Equal(t, j.call("prepare").code, 0)
	r := j.run("build_script", "exec 3<>/dev/tcp/cache/6379\nprintf 'PING\\r\\n' >&3\nhead -c 5 <&3; echo\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "+PONG\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealSourcesShared: what get_sources and restore_cache write in the
// helper container (the repository, the cache dir) is what build_script
// reads in the build container.
func TestRealSourcesShared(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	r := j.run("get_sources", "mkdir -p \"$CI_PROJECT_DIR\" && cd \"$CI_PROJECT_DIR\" && git init -q . && echo from-helper > README && git add README && git -c user.email=ci@example.com -c user.name=ci commit -qm init && echo cloned\n")
	assert.Equal(t, r.code, 0, r.stdout+r.stderr)
	r = j.run("restore_cache", "echo cached-by-helper > /cache/entry\n")
	assert.Equal(t, r.code, 0, r.stdout+r.stderr)
	r = j.run("build_script", "cd \"$CI_PROJECT_DIR\" && cat README && git log --format=%s && cat /cache/entry\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "from-helper\ninit\ncached-by-helper\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealMemoryLimit: a script that exceeds the container's memory limit
// is killed, and its 137 is the job's exit code.
func TestRealMemoryLimit(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{config: `memory_limit = "64Mi"`})
	assert.Equal(t, j.call("prepare").code, 0)
	// bash's "Killed" report quotes the script, so the line after the
	// allocation prints a value the script text does not hold.
	r := j.run("build_script", "echo allocating\nx=$(head -c 300000000 /dev/zero | tr '\\0' x)\necho after-$((40+2))\n")
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Equal(t, j.buildExitCode(), "137")
	assert.Assert(t, is.Contains(r.stdout, "allocating\n"))
	assert.Assert(t, !strings.Contains(r.stdout, "after-42"))
	assert.Assert(t, is.Contains(r.stdout, "k8sdrv: the script was killed by the out-of-memory killer: its container reached its memory limit\n"))
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealShOnlyImage: an image without bash (busybox) runs every stage
// under sh.
func TestRealShOnlyImage(t *testing.T) {
	requireReal(t)
	busybox := envOr("K8SDRV_E2E_BUSYBOX_IMAGE", "k8sdrv.local/busybox:1")
	j := newJob(t, jobOptions{image: busybox, helperImage: busybox})
	assert.Equal(t, j.call("prepare").code, 0)
	for _, stage := range []string{"prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"} {
		r := j.call("run", writeShScript(t, j, "echo \"$0 in "+stage+"\"; [ -z \"$BASH_VERSION\" ] && echo no-bash\n"), stage)
		assert.Equal(t, r.code, 0, r.stderr)
		assert.Assert(t, is.Contains(r.stdout, "no-bash"), "stage %s: %q", stage, r.stdout)
	}
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealRunAsUser: pod_security_context reaches the processes.
func TestRealRunAsUser(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{config: "[pod_security_context]\nrun_as_user = 1000\nrun_as_group = 1000\n"})
	assert.Equal(t, j.call("prepare").code, 0)
	r := j.run("build_script", "id -u; id -g\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "1000\n1000\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// writeShScript writes a POSIX sh stage script (no bash in the image).
func writeShScript(t *testing.T, j *job, commands string) string {
	j.seq++
	path := j.tmp + "/sh-script-" + string(rune('a'+j.seq%26))
	assert.NilError(t, os.WriteFile(path, []byte("#!/bin/sh\nset -e\n"+commands), 0o700))
	return path
}

// TestRealServiceEntrypointCommandVariables: a service runs with the job's
// entrypoint, command and variables (redis on another port, the HTTP
// server on the port its PORT variable names).
func TestRealServiceEntrypointCommandVariables(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{response: map[string]any{"services": []map[string]any{
		{"name": envOr("K8SDRV_E2E_REDIS_IMAGE", "k8sdrv.local/redis:1"), "alias": "cache",
			"entrypoint": []string{"redis-server"}, "command": []string{"--port", "6380", "--protected-mode", "no"}},
		{"name": envOr("K8SDRV_E2E_HTTPD_IMAGE", "k8sdrv.local/httpd:1"), "alias": "web",
			"variables": []map[string]any{{"key": "PORT", "value": "9090"}}},
	}}})
	assert.Equal(t, j.call("prepare").code, 0)
	r := j.run("build_script", `exec 3<>/dev/tcp/cache/6380
printf 'PING\r\n' >&3
head -c 5 <&3; echo
exec 4<>/dev/tcp/web/9090
printf 'GET /hello HTTP/1.0\r\n\r\n' >&4
grep -o 'GET /hello' <&4
`)
	assert.Equal(t, r.code, 0, r.stdout+r.stderr)
	assert.Equal(t, r.stdout, "+PONG\nGET /hello\n")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealBuildScriptCannotPlantCommandsForHelperStages: the build and
// helper containers each have their own volume for k8sdrv's stage files,
// so a build script that writes commands where the helper's stages look
// first (<driver dir>/helper/bin) plants them only in the build
// container: the helper's next stages run the image's own commands, and
// nothing planted ever runs.
func TestRealBuildScriptCannotPlantCommandsForHelperStages(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	assert.Equal(t, j.run("get_sources", "mkdir -p \"$CI_PROJECT_DIR\"\n").code, 0)
	plant := `planted=0
while read -r _ mnt _; do
  case $mnt in /proc*|/sys*|/dev*|/etc*|/) continue ;; esac
  [ -d "$mnt/build" ] || continue
  bin=$mnt/helper/bin
  mkdir -p "$bin" || continue
  for cmd in setsid sh bash cat head tail wc mkdir mv ln sleep kill gitlab-runner gitlab-runner-helper; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/planted"\n' "$cmd" "$CI_PROJECT_DIR" >"$bin/$cmd" && chmod +x "$bin/$cmd" && planted=$((planted + 1))
  done
done </proc/mounts
echo "planted $planted"
`
	r := j.run("build_script", plant)
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, strings.HasPrefix(r.stdout, "planted ") && r.stdout != "planted 0\n", "the script found k8sdrv's directory and wrote into it: %q", r.stdout)

	r = j.run("archive_cache", "echo archived\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "archived\n")
	r = j.run("upload_artifacts_on_success", "echo uploaded\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "uploaded\n")

	r = j.run("after_script", "if [ -e \"$CI_PROJECT_DIR/planted\" ]; then cat \"$CI_PROJECT_DIR/planted\"; else echo none ran; fi\n")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "none ran\n", "a planted command ran")
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestRealPodEvictedMidStage: a pod evicted through the eviction API (as a
// node drain does) while build_script runs ends the stage as a system
// failure (the runner's retry on runner_system_failure applies), with one
// line saying that the cluster is stopping the pod and why, not a bare
// exit code or "pod not found".
func TestRealPodEvictedMidStage(t *testing.T) {
	requireReal(t)
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	cmd := j.command(context.Background(), "run", j.stageScript("build_script", "echo started\nsleep 60\necho not reached\n"), "build_script")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	assert.NilError(t, cmd.Start())
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(stdout.String(), "started") })

	pod := j.pods()[0]
	ref := strings.SplitN(pod, "/", 2)
	err := kube.CoreV1().Pods(ref[0]).EvictV1(context.Background(), &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref[0], Name: ref[1]},
	})
	assert.NilError(t, err)
	evicted := time.Now()
	err = cmd.Wait()
	t.Logf("run ended %s after the eviction: %s", time.Since(evicted).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	assert.Assert(t, err != nil)
	assert.Equal(t, cmd.ProcessState.ExitCode(), 2, "a system failure: %s", stderr.String())
	assert.Check(t, is.Contains(stderr.String(), "pod "+pod+" is being stopped by the cluster (EvictionByEvictionAPI)"))
	assert.Check(t, !strings.Contains(stdout.String(), "not reached"))
	assert.Equal(t, j.buildExitCode(), "")
	assert.Equal(t, j.call("cleanup").code, 0)
}
