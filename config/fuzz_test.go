package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k8sdrv/k8sdrv/job"
)

// FuzzLoad feeds Load arbitrary file contents: whatever an operator
// writes, k8sdrv answers with problems that name the file, or with a
// configuration that Validate accepts; never a panic or a hang.
func FuzzLoad(f *testing.F) {
	clearEnv(f)
	for _, pattern := range []string{"../examples/*.toml", "../podbuilder/testdata/*.toml", "../podbuilder/testdata/docs/*.toml"} {
		addFiles(f, pattern)
	}
	for _, seed := range []string{
		kubernetesKeys,
		"[runners.kubernetes]\nnamespace = \"ci\"\n",
		"[[runners]]\nbuilds_dir = \"/b\"\n[runners.kubernetes]\nimage = \"alpine\"\n",
		"[[runners]]\n[[runners]]\n",
		"runners = 1\n",
		"namespace = \"Not A Label\"\ncpu_limit = \"lots\"\n",
		"[[pod_spec]]\nname = \"x\"\npatch = \"[{\\\"op\\\": \\\"add\\\"}]\"\npatch_type = \"json\"\n",
		"[[pod_spec]]\npatch_path = \"missing.yaml\"\n",
		"poll_timeout = 99999999999999999\ncleanup_resources_timeout = \"-1s\"\n",
		"[node_tolerations]\n\"a=b\" = \"NoSchedule\"\nunknown = 1\n",
		"namespace_overwrite_allowed = \"(\"\n",
	} {
		f.Add([]byte(seed))
	}
	path := filepath.Join(f.TempDir(), "k8sdrv.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadWithin(t, path, 10*time.Second)
		if err != nil {
			checkReport(t, err, path)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a configuration that Validate refuses: %v", err)
		}
	})
}

// addFiles adds every file matching pattern as a seed.
func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match %s (%v)", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// loadWithin runs Load, failing the input if it takes longer than limit:
// the fuzzing engine itself never calls a slow input a crash.
func loadWithin(t *testing.T, path string, limit time.Duration) (*Config, error) {
	type loaded struct {
		cfg *Config
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		cfg, err := Load(path)
		done <- loaded{cfg, err}
	}()
	select {
	case l := <-done:
		return l.cfg, l.err
	case <-time.After(limit):
		t.Fatalf("Load did not return within %s", limit)
		return nil, nil
	}
}

// checkReport holds an error of Load to its format: one problem a line,
// each starting with the file, so that editors and scripts can find it.
func checkReport(t *testing.T, err error, path string) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		rest, ok := strings.CutPrefix(line, path+":")
		if !ok || strings.TrimSpace(rest) == "" {
			t.Fatalf("a line of the error does not name the file and a problem: %q\nin:\n%v", line, err)
		}
	}
}

// FuzzForJob gives ForJob arbitrary job variables under gates that let
// every overwrite through: a job may be refused only with a JobError, and
// what it is allowed keeps the rules the gates cannot express.
// vars holds NAME=VALUE entries separated by NUL; masked names the
// variables, separated by commas, whose values are masked.
func FuzzForJob(f *testing.F) {
	for _, seed := range [][2]string{
		{"KUBERNETES_NAMESPACE_OVERWRITE=ci-feature", ""},
		{"KUBERNETES_NAMESPACE_OVERWRITE=Not_A_Label", ""},
		{"KUBERNETES_SERVICE_ACCOUNT_OVERWRITE=builder.ci\x00KUBERNETES_BEARER_TOKEN=tok", ""},
		{"KUBERNETES_CPU_LIMIT=1500m\x00KUBERNETES_MEMORY_REQUEST=1Gi\x00KUBERNETES_HELPER_EPHEMERAL_STORAGE_LIMIT=1e3", ""},
		{"KUBERNETES_CPU_LIMIT=9\x00KUBERNETES_MEMORY_LIMIT=-1Gi\x00KUBERNETES_SERVICE_CPU_REQUEST=+1", ""},
		{"KUBERNETES_POD_LABELS_1=team=ci\x00KUBERNETES_POD_ANNOTATIONS_x=example.com/owner=$SECRET", ""},
		{"KUBERNETES_POD_LABELS_1==novalue\x00KUBERNETES_POD_LABELS_2=no-equals", ""},
		{"SECRET=hunter22\x00KUBERNETES_NAMESPACE_OVERWRITE=hunter22\x00KUBERNETES_POD_LABELS_A=k=${SECRET}", "SECRET"},
		{"KUBERNETES_NODE_TOLERATIONS_1=gpu=a100:NoSchedule\x00KUBERNETES_NODE_TOLERATIONS_2=\x00KUBERNETES_NODE_TOLERATIONS_3==x:Never", ""},
		{"KUBERNETES_POD_CPU_LIMIT=1\x00KUBERNETES_POD_MEMORY_REQUEST=64Gi", ""},
		{"CI_JOB_IMAGE=golang:1.26\x00CI_JOB_SERVICES=[{\"name\":\"postgres:16\",\"alias\":\"db\"}]", ""},
		{"CI_JOB_IMAGE=Not An Image\x00CI_JOB_SERVICES=[{\"alias\":\"Bad_Alias\",\"pull_policy\":[\"sometimes\"]}]", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, vars, masked string) {
		c := permissive(t)
		before := *c.clone()
		j := fuzzJob(t, vars, masked)
		jc, err := ForJob(c, j, nil)
		if !reflect.DeepEqual(*c, before) {
			t.Fatal("ForJob changed the operator's configuration")
		}
		if err != nil {
			checkJobErrors(t, err)
			return
		}
		checkAllowed(t, jc, j)
	})
}

// permissive is a valid configuration whose gates let every overwrite
// through, with a maximum for every resource.
func permissive(t *testing.T) *Config {
	c := &Config{Host: "https://10.0.0.1:6443"}
	c.ServiceAccount = "default"
	c.applyDefaults()
	c.NamespaceOverwriteAllowed = ".*"
	c.ServiceAccountOverwriteAllowed = ".*"
	c.BearerTokenOverwriteAllowed = true
	c.PodLabelsOverwriteAllowed = ".*"
	c.PodAnnotationsOverwriteAllowed = ".*"
	c.NodeTolerationsOverwriteAllowed = ".*"
	c.PullPolicy = StringList{"if-not-present"}
	c.AllowedPullPolicies = []string{"always", "if-not-present", "never"}
	for _, r := range c.Resources.Settings() {
		*r.Value, *r.Max = "1", map[string]string{"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi"}[r.Resource]
		if r.Container == PodLevel {
			*r.Value = *r.Max // room for the containers' requests together
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the permissive configuration is not valid: %v", err)
	}
	return c
}

// fuzzJob is the job of the CUSTOM_ENV_ variables in vars, with the
// values of the variables named in masked masked.
func fuzzJob(t *testing.T, vars, masked string) *job.Job {
	var environ []string
	for _, kv := range strings.Split(vars, "\x00") {
		environ = append(environ, job.EnvPrefix+kv)
	}
	j, err := job.Load(environ, "")
	if err != nil {
		t.Skip("not a job gitlab-runner would describe:", err)
	}
	for _, name := range strings.Split(masked, ",") {
		if v := j.Variables[name]; v != "" {
			j.Masked = append(j.Masked, v)
			j.MaskedNames = append(j.MaskedNames, name)
		}
	}
	return j
}

// checkJobErrors fails unless every error joined in err is a JobError:
// anything else would be a system failure, which the runner retries.
func checkJobErrors(t *testing.T, err error) {
	t.Helper()
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var jobErr *JobError
		if !errors.As(e, &jobErr) || e.Error() == "" {
			t.Fatalf("a refusal that is not a JobError: %T %v", e, e)
		}
	}
}

// checkAllowed checks what ForJob let through against the rules that the
// API server and the operator's maximums impose.
func checkAllowed(t *testing.T, jc *JobConfig, j *job.Job) {
	t.Helper()
	if ns := j.Variables["KUBERNETES_NAMESPACE_OVERWRITE"]; ns != "" && jc.Namespace != ns {
		t.Fatalf("namespace %q, want the allowed overwrite %q", jc.Namespace, ns)
	}
	if msgs := validation.IsDNS1123Label(jc.Namespace); len(msgs) > 0 {
		t.Fatalf("namespace %q: %v", jc.Namespace, msgs)
	}
	if msgs := validation.IsDNS1123Subdomain(jc.ServiceAccount); len(msgs) > 0 {
		t.Fatalf("service account %q: %v", jc.ServiceAccount, msgs)
	}
	for _, r := range jc.Resources.Settings() {
		q, err := ParseQuantity(*r.Value)
		if err != nil {
			t.Fatalf("%s = %q: %v", r.Key, *r.Value, err)
		}
		if max, _ := ParseQuantity(*r.Max); q.Cmp(max) > 0 {
			t.Fatalf("%s = %q is above its maximum %q", r.Key, *r.Value, *r.Max)
		}
	}
	if problems := jc.Resources.checkRequirements(len(jc.Services) + len(j.Services)); len(problems) > 0 {
		t.Fatalf("requests and limits the API server refuses: %v", problems)
	}
	for what, m := range map[string]map[string]string{"label": jc.PodLabels, "annotation": jc.PodAnnotations} {
		for k, v := range m {
			if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
				t.Fatalf("%s key %q: %v", what, k, msgs)
			}
			if names := append(j.MaskedIn(k), j.MaskedIn(j.Expand(v))...); len(names) > 0 {
				t.Fatalf("%s %q holds masked %v", what, k, names)
			}
		}
	}
	for k, effect := range jc.NodeTolerations {
		if problem := TolerationProblem(k, effect); problem != "" {
			t.Fatalf("toleration %q = %q: %s", k, effect, problem)
		}
	}
	if names := append(j.MaskedIn(jc.Namespace), j.MaskedIn(jc.ServiceAccount)...); len(names) > 0 {
		t.Fatalf("namespace or service account holds masked %v", names)
	}
}
