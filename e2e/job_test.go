package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIntegrationPassingJob runs a whole job through every stage the
// runner calls and checks output byte for byte.
func TestIntegrationPassingJob(t *testing.T) {
	j := newJob(t, jobOptions{})

	cfg := j.call("config")
	assert.Equal(t, cfg.code, 0, cfg.stderr)
	var out map[string]any
	assert.NilError(t, json.Unmarshal([]byte(cfg.stdout), &out), "config stdout must be only JSON: %q", cfg.stdout)
	assert.Equal(t, out["builds_dir"], j.buildsDir())
	assert.DeepEqual(t, out["driver"], map[string]any{"name": "k8sdrv", "version": "dev"}, cmpIgnoreVersion)

	prep := j.call("prepare")
	assert.Equal(t, prep.code, 0, prep.stderr)
	assert.Assert(t, is.Contains(prep.stderr, "Created pod default/runner-e2etok12-project-4242-concurrent-0-"))
	// The last line says where prepare's time went.
	lines := strings.Split(strings.TrimSpace(prep.stderr), "\n")
	assert.Assert(t, is.Regexp(`^Pod default/runner-e2etok12-project-4242-concurrent-0-\w+ running after \d+\.\ds: scheduled after \d+\.\ds; containers running: `, lines[len(lines)-1]))
	// In bold green in the job log, as gitlab-runner shows its own
	// headings; the progress lines before it plain.
	raw := strings.Split(strings.TrimSpace(prep.rawStderr), "\n")
	assert.Assert(t, strings.HasPrefix(raw[len(raw)-1], "\x1b[32;1mPod default/runner-e2etok12-project-4242-concurrent-0-"), "%q", raw[len(raw)-1])
	assert.Assert(t, strings.HasPrefix(raw[0], "Created pod default/"), "%q", raw[0])

	stages := []struct{ name, commands, want string }{
		{"prepare_script", "echo prepare on $(hostname) >/dev/null; echo prepared\n", "prepared\n"},
		{"get_sources", "mkdir -p \"$CI_PROJECT_DIR\" && echo 'hello' > \"$CI_PROJECT_DIR/README\"\necho fetched\n", "fetched\n"},
		{"build_script", "cat \"$CI_PROJECT_DIR/README\"\nprintf 'no newline at end'\necho ' to stderr' >&2\nprintf '\\t\\x01binary\\xff\\n'\n", "hello\nno newline at end to stderr\n\t\x01binary\xff\n"},
		{"after_script", "echo \"status=$CI_JOB_STATUS\"\n", "status=running\n"},
		{"cleanup_file_variables", "true\n", ""},
	}
	for _, s := range stages {
		r := j.run(s.name, s.commands)
		assert.Equal(t, r.code, 0, "stage %s: %s", s.name, r.stderr)
		assert.Equal(t, r.stdout, s.want, "stage %s", s.name)
	}

	clean := j.call("cleanup")
	assert.Equal(t, clean.code, 0, clean.stderr)
	// For the runner's own log: where the job's time went, uncoloured.
	assert.Assert(t, is.Regexp(`(?m)^Job took \d+\.\ds from prepare to the end of cleanup: prepare \d+\.\ds, 5 stages \d+\.\ds \(longest \w+ \d+\.\ds\), cleanup \d+\.\ds$`, clean.rawStderr))
}

// TestIntegrationScriptExitCode: a script that exits 3 fails the build with
// 3 in BUILD_EXIT_CODE_FILE; after_script still runs.
func TestIntegrationScriptExitCode(t *testing.T) {
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)

	r := j.run("build_script", "echo before\nexit 3\necho never\n")
	assert.Equal(t, r.code, 1, r.stderr)
	assert.Equal(t, r.stdout, "before\n")
	assert.Equal(t, j.buildExitCode(), "3")

	j.env["CUSTOM_ENV_CI_JOB_STATUS"] = "failed"
	after := j.run("after_script", "echo \"after $CI_JOB_STATUS\"\n")
	assert.Equal(t, after.code, 0, after.stderr)
	assert.Equal(t, after.stdout, "after failed\n")

	// errexit: a failing command in the middle fails the stage with its code.
	r = j.run("step_release", "echo one\nfalse\necho two\n")
	assert.Equal(t, r.code, 1)
	assert.Equal(t, r.stdout, "one\n")
	assert.Equal(t, j.buildExitCode(), "1")

	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationMissingImage: an image that cannot be pulled fails prepare
// as a system failure naming the image, long before poll_timeout, and
// leaves no pod behind.
func TestIntegrationMissingImage(t *testing.T) {
	image := "registry.example.com/group/doesnotexist:1.0"
	j := newJob(t, jobOptions{image: image, pollTimeout: 120})
	r := j.call("prepare")
	assert.Equal(t, r.code, 2, r.stderr)
	// ErrImagePull from a registry; ErrImageNeverPull under pull_policy never.
	assert.Assert(t, is.Contains(r.stderr, `container build (image "`+image+`") cannot start: ErrImage`))
	assert.Assert(t, r.elapsed < 60*time.Second, "took %s; poll_timeout is 120s", r.elapsed)
	assert.DeepEqual(t, j.pods(), []string(nil))
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationServices: job and config services become svc-N containers
// with their entrypoint, command and variables, reachable by alias.
func TestIntegrationServices(t *testing.T) {
	skipShort(t)
	requireKWOK(t, "its service images need not exist")
	j := newJob(t, jobOptions{
		response: map[string]any{"services": []map[string]any{
			{"name": "postgres:16", "alias": "db,postgres-main", "variables": []map[string]any{{"key": "POSTGRES_PASSWORD", "value": "pw"}}},
			{"name": "registry.example.com/cache/redis:7", "entrypoint": []string{"redis-server"}, "command": []string{"--port", "6380"}},
		}},
		config: "[[services]]\nname = \"mysql:8\"\nalias = \"mysql\"\n",
	})
	assert.Equal(t, j.call("prepare").code, 0)
	pods := j.pods()
	assert.Equal(t, len(pods), 1)
	name := strings.SplitN(pods[0], "/", 2)[1]
	pod, err := kube.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	assert.NilError(t, err)

	var names, images []string
	for _, c := range pod.Spec.Containers {
		names, images = append(names, c.Name), append(images, c.Image)
	}
	assert.DeepEqual(t, names, []string{"build", "helper", "svc-0", "svc-1", "svc-2"})
	assert.DeepEqual(t, images[2:], []string{"postgres:16", "registry.example.com/cache/redis:7", "mysql:8"})
	redis := pod.Spec.Containers[3]
	assert.DeepEqual(t, redis.Command, []string{"redis-server"})
	assert.DeepEqual(t, redis.Args, []string{"--port", "6380"})
	assert.Equal(t, pod.Spec.Containers[2].Env[0].Name, "POSTGRES_PASSWORD")
	assert.Equal(t, len(pod.Spec.HostAliases), 1)
	assert.DeepEqual(t, pod.Spec.HostAliases[0].Hostnames, []string{"postgres", "db", "postgres-main", "registry.example.com-cache-redis", "mysql"})
	assert.Equal(t, pod.Spec.HostAliases[0].IP, "127.0.0.1")

	assert.Equal(t, j.call("cleanup").code, 0)
}

var cmpIgnoreVersion = cmpOptionIgnoreVersion()

// TestIntegrationCleanupWithoutState: when prepare's state file is gone,
// cleanup still finds the job's pod by its labels.
func TestIntegrationCleanupWithoutState(t *testing.T) {
	j := newJob(t, jobOptions{})
	assert.Equal(t, j.call("prepare").code, 0)
	assert.Equal(t, len(j.pods()), 1)
	assert.NilError(t, os.Remove(filepath.Join(j.tmp, "k8sdrv-state.json")))
	r := j.call("cleanup")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.DeepEqual(t, j.pods(), []string(nil))
	// A second cleanup finds nothing and succeeds.
	assert.Equal(t, j.call("cleanup").code, 0)
}

// TestIntegrationUnschedulable: a pod that requests more cpu than the
// cluster's node has (32) fails prepare within seconds, long before
// poll_timeout, naming cpu and the node's allocatable, and is deleted.
func TestIntegrationUnschedulable(t *testing.T) {
	j := newJob(t, jobOptions{pollTimeout: 60, config: `cpu_request = "4000"`})
	r := j.call("prepare")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Assert(t, is.Contains(r.stderr, "fits no node of the cluster even when empty: it requests cpu 4k, and the largest node ("))
	assert.Assert(t, is.Contains(r.stderr, "Insufficient cpu"))
	assert.Assert(t, r.elapsed < 15*time.Second, "took %s; poll_timeout is 60s", r.elapsed)
	assert.DeepEqual(t, j.pods(), []string(nil))
}

// TestIntegrationNodeSelectorMatchesNoNode: the scheduler's reason reaches
// the job log when node_selector excludes every node.
func TestIntegrationNodeSelectorMatchesNoNode(t *testing.T) {
	j := newJob(t, jobOptions{pollTimeout: 3, config: "[node_selector]\n\"example.com/pool\" = \"gpu\"\n"})
	r := j.call("prepare")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Assert(t, is.Contains(r.stderr, "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector"))
	assert.DeepEqual(t, j.pods(), []string(nil))
}

// TestIntegrationPullPolicyList: with pull_policy ["always", "if-not-present"]
// a pod whose "always" pull fails is created again with if-not-present and
// runs; when every policy fails, prepare reports the last pull error.
func TestIntegrationPullPolicyList(t *testing.T) {
	skipShort(t)
	requireKWOK(t, "images named *pull-always-fails* fail only there")
	config := `pull_policy = ["always", "if-not-present"]`
	// The local cluster fails images named *pull-always-fails* only with
	// imagePullPolicy Always.
	j := newJob(t, jobOptions{image: "registry.example.com/pull-always-fails:1", config: config})
	r := j.call("prepare")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Assert(t, is.Contains(r.stderr, "cannot start: ErrImagePull"))
	assert.Assert(t, is.Contains(r.stderr, "; trying the next pull policy"))
	assert.Equal(t, strings.Count(r.stderr, "Created pod"), 2)
	assert.Equal(t, len(j.pods()), 1)
	out := j.run("build_script", "echo pulled on the second attempt\n")
	assert.Equal(t, out.stdout, "pulled on the second attempt\n")
	assert.Equal(t, j.call("cleanup").code, 0)

	j = newJob(t, jobOptions{image: "registry.example.com/doesnotexist:1", config: config})
	r = j.call("prepare")
	assert.Equal(t, r.code, 2, r.stderr)
	assert.Equal(t, strings.Count(r.stderr, "Created pod"), 2)
	assert.Assert(t, is.Contains(r.stderr, `k8sdrv: container build (image "registry.example.com/doesnotexist:1") cannot start: ErrImagePull`))
	assert.DeepEqual(t, j.pods(), []string(nil))
}
