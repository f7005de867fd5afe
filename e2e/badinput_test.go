package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestIntegrationBadInput: each mistake gives one clear line on stderr
// naming the file, key or object (several mistakes one line each), exits
// with SYSTEM_FAILURE_EXIT_CODE, and creates nothing in the cluster.
func TestIntegrationBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(j *job)
		args  []string
		want  []string
		lines int // lines on stderr, when not 1
	}{
		{
			name:  "missing config file",
			setup: func(j *job) { j.configPath = filepath.Join(j.root, "nope.toml") },
			args:  []string{"config"},
			want:  []string{"nope.toml", "no such file"},
		},
		{
			name:  "unknown key",
			setup: func(j *job) { appendConfig(j, "namespaces = \"ci\"\n[node_selektor]\nx = \"y\"\n") },
			args:  []string{"prepare"},
			want:  []string{"k8sdrv.toml:", ": namespaces: unknown key\n", ": node_selektor: unknown key\n"},
			lines: 2,
		},
		{
			name:  "unparsable quantity",
			setup: func(j *job) { appendConfig(j, "memory_limit = \"lots\"\n") },
			args:  []string{"prepare"},
			want:  []string{"memory_limit", `"lots" is not a Kubernetes quantity`},
		},
		{
			name:  "unknown dns_policy",
			setup: func(j *job) { appendConfig(j, "dns_policy = \"cluster_first\"\n") },
			args:  []string{"prepare"},
			want:  []string{"dns_policy", `"cluster_first" is not one of none, default, cluster-first, cluster-first-with-host-net`},
		},
		{
			name:  "bad toleration effect",
			setup: func(j *job) { appendConfig(j, "[node_tolerations]\n\"gpu=true\" = \"NoScheduler\"\n") },
			args:  []string{"prepare"},
			want:  []string{`node_tolerations."gpu=true"`, `effect "NoScheduler"`},
		},
		{
			name: "patch and patch_path together",
			setup: func(j *job) {
				appendConfig(j, "[[pod_spec]]\nname = \"p\"\npatch = \"hostname: x\"\npatch_path = \"/etc/p.yaml\"\n")
			},
			args: []string{"prepare"},
			want: []string{"pod_spec[0] (p): set patch or patch_path, not both"},
		},
		{
			name: "invalid JSON patch",
			setup: func(j *job) {
				appendConfig(j, "[[pod_spec]]\nname = \"p\"\npatch_type = \"json\"\npatch = '{\"op\": \"add\"}'\n")
			},
			args: []string{"prepare"},
			want: []string{"pod_spec[0] (p).patch: not a JSON patch"},
		},
		{
			// Found by config, before the runner prepares anything.
			name: "patch that removes the build container",
			setup: func(j *job) {
				appendConfig(j, "[[pod_spec]]\nname = \"slim\"\npatch_type = \"json\"\npatch = '[{\"op\": \"remove\", \"path\": \"/containers/0\"}]'\n")
			},
			args: []string{"config"},
			want: []string{"build pod: pod_spec[0] (slim): json patch: the pod has no build container left"},
		},
		{
			name:  "operator service image that is no image reference",
			setup: func(j *job) { appendConfig(j, "[[services]]\nname = \"Redis:7\"\n") },
			args:  []string{"config"},
			want:  []string{`services[0].name: "Redis:7": not a valid image reference`},
		},
		{
			name: "unreadable job response",
			setup: func(j *job) {
				// A directory in its place: unreadable even for root.
				path := filepath.Join(j.tmp, "response.json")
				assert.NilError(t, os.Remove(path))
				assert.NilError(t, os.Mkdir(path, 0o700))
			},
			args: []string{"prepare"},
			want: []string{"JOB_RESPONSE_FILE", "is a directory"},
		},
		{
			name:  "malformed job response",
			setup: func(j *job) { writeFile(t, filepath.Join(j.tmp, "response.json"), "{not json") },
			args:  []string{"prepare"},
			want:  []string{"JOB_RESPONSE_FILE", "not a job response"},
		},
		{
			name: "run without prepare",
			args: []string{"run", "/dev/null", "build_script"},
			want: []string{"k8sdrv-state.json", "prepare has not created a pod"},
		},
		{
			name: "unreachable API server",
			setup: func(j *job) {
				// retry_limit = 1: by default a request that gets no
				// answer is tried for 30 s, with warnings, before this line.
				appendConfig(j, "host = \"https://127.0.0.1:1\"\nbearer_token = \"very-secret-operator-token\"\nretry_limit = 1\n")
			},
			args: []string{"prepare"},
			want: []string{"create pod in namespace default", "127.0.0.1:1", "connection refused"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob(t, jobOptions{})
			if tc.setup != nil {
				tc.setup(j)
			}
			r := j.call(tc.args...)
			assert.Equal(t, r.code, 2, "stderr: %s", r.stderr)
			assert.Assert(t, strings.HasSuffix(r.stderr, "\n"), "stderr: %q", r.stderr)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			assert.Equal(t, len(lines), max(tc.lines, 1), "stderr: %q", r.stderr)
			for _, line := range lines {
				assert.Assert(t, strings.HasPrefix(line, "ERROR: k8sdrv: "), r.stderr)
			}
			for _, want := range tc.want {
				assert.Check(t, is.Contains(r.stderr, want))
			}
			assert.Check(t, !strings.Contains(r.stderr+r.stdout, "secret"), "a secret reached the output: %s", r.stderr)
			assert.DeepEqual(t, j.pods(), []string(nil))
		})
	}
}

func appendConfig(j *job, lines string) {
	f, err := os.OpenFile(j.configPath, os.O_APPEND|os.O_WRONLY, 0)
	assert.NilError(j.t, err)
	defer f.Close()
	_, err = f.WriteString(lines)
	assert.NilError(j.t, err)
}

func writeFile(t testing.TB, path, content string) {
	assert.NilError(t, os.WriteFile(path, []byte(content), 0o600))
}
