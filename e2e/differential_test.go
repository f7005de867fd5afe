package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/config"
	jobinput "github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// differentialValues are, per setting that ends up in the pod, values an
// operator might write: valid ones, and the kinds of mistakes the API
// server refuses (case, spaces, underscores, signs, ranges, paths).
var differentialValues = map[string][]string{
	"namespace":           {`"ci"`, `"CI"`, `"a_b"`, `"-x"`, `"` + strings.Repeat("n", 64) + `"`},
	"cpu_limit":           {`"1"`, `"0"`, `"-1"`, `"1.5"`, `"1e3"`, `"0.0001"`, `"abc"`, `"1Ki"`},
	"memory_request":      {`"1Gi"`, `"0"`, `"-5Mi"`, `"1.5Gi"`, `"1e9"`, `"10mb"`},
	"pod_cpu_limit":       {`"2"`, `"0"`, `"-1"`, `"500m"`},
	"node_selector":       {`{ "a" = "b" }`, `{ "A/B" = "c" }`, `{ "k" = "v v" }`, `{ "k" = "" }`, `{ "x.io/y" = "z" }`, `{ "-k" = "v" }`, `{ "k" = "` + strings.Repeat("v", 64) + `" }`},
	"node_tolerations":    {`{ "k=v" = "NoSchedule" }`, `{ "k" = "" }`, `{ "=v" = "NoSchedule" }`, `{ "k v" = "" }`, `{ "k=v v" = "NoExecute" }`, `{ "k=v" = "noschedule" }`},
	"pod_labels":          {`{ "a" = "b" }`, `{ "a" = "bad value!" }`, `{ "app.kubernetes.io/x" = "y" }`, `{ "x" = "` + strings.Repeat("l", 64) + `" }`, `{ "k8s.io/" = "v" }`},
	"pod_annotations":     {`{ "a" = "b" }`, `{ "a b" = "c" }`, `{ "example.com/x" = "multi\nline" }`, `{ "/x" = "y" }`},
	"host_aliases":        {`[{ ip = "10.0.0.1", hostnames = ["a"] }]`, `[{ ip = "::1", hostnames = ["a.b"] }]`, `[{ ip = "300.1.1.1", hostnames = ["a"] }]`, `[{ ip = "10.0.0.1", hostnames = ["A_B"] }]`, `[{ ip = "10.0.0.1", hostnames = [] }]`},
	"priority_class_name": {`"priority-1"`, `"Priority_1"`, `"a b"`},
	"scheduler_name":      {`"custom"`, `"a b"`, `"UPPER"`},
	"runtime_class_name":  {`"kata"`, `"Kata"`, `"a_b"`},
	"dns_policy":          {`"none"`, `"default"`, `"cluster-first"`},
	"dns_config":          {`{ nameservers = ["1.1.1.1"] }`, `{ nameservers = ["x"] }`, `{ searches = ["a b"] }`, `{ options = [{ name = "" }] }`, `{ nameservers = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"] }`},
	"cap_add":             {`["NET_ADMIN"]`, `["net_admin"]`, `["CAP_SYS_TIME"]`, `[""]`, `["A B"]`},
	"cap_drop":            {`["ALL"]`, `["x y"]`},
	"pod_security_context": {`{ run_as_user = 1000 }`, `{ run_as_user = -1 }`, `{ run_as_user = 2147483648 }`, `{ fs_group = -5 }`, `{ supplemental_groups = [-1] }`,
		`{ run_as_non_root = true, run_as_user = 0 }`, `{ selinux_type = "a b" }`, `{ seccomp_profile = { type = "Localhost", localhost_profile = "/abs" } }`},
	"build_container_security_context":     {`{ run_as_user = 0 }`, `{ run_as_group = -1 }`, `{ capabilities = { add = ["x y"] } }`},
	"pod_termination_grace_period_seconds": {`0`, `30`, `-1`},
	"image_pull_secrets":                   {`["regcred"]`, `["Reg_Cred"]`, `[""]`},
	"volumes": {
		`{ host_path = [{ name = "h", mount_path = "/h", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "H_1", mount_path = "/h", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "h", mount_path = "rel", host_path = "/srv" }] }`,
		`{ host_path = [{ name = "h", mount_path = "/h", host_path = "/srv", sub_path = "../x" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", medium = "Memory" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", medium = "disk" }] }`,
		`{ empty_dir = [{ name = "e", mount_path = "/e", size_limit = "1Gi" }] }`,
		`{ pvc = [{ name = "p q", mount_path = "/p" }] }`,
		`{ config_map = [{ name = "cm", mount_path = "/c", items = { "k" = "../p" } }] }`,
		`{ secret = [{ name = "s", mount_path = "/s", items = { "k" = "a/b" } }] }`,
		`{ csi = [{ name = "c", mount_path = "/c", driver = "Bad Driver" }] }`,
		`{ nfs = [{ name = "n", mount_path = "/n", server = "nfs.local", path = "/export" }] }`,
	},
	"affinity": {
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "zone", operator = "In", values = ["a"] }] }] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "zone", operator = "Exists", values = ["a"] }] }] } } }`,
		`{ node_affinity = { required_during_scheduling_ignored_during_execution = { node_selector_terms = [{ match_expressions = [{ key = "bad key", operator = "In", values = ["a"] }] }] } } }`,
		`{ pod_anti_affinity = { required_during_scheduling_ignored_during_execution = [{ topology_key = "", label_selector = { match_labels = { "a" = "b" } } }] } }`,
	},
}

// TestIntegrationLocalValidationMatchesTheAPIServer: random combinations of
// settings, each loaded and built as prepare would; whatever k8sdrv accepts
// (so `prepare --dry-run` prints it) the real kube-apiserver's validation
// must accept too (server-side dry run). Refusals for objects that do not
// exist in this cluster are not validation and are not counted.
func TestIntegrationLocalValidationMatchesTheAPIServer(t *testing.T) {
	skipShort(t)
	ensureClusterObjects(t)
	cases := sized(400, 4000)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	keys := make([]string, 0, len(differentialValues))
	for k := range differentialValues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	environ := []string{"CUSTOM_ENV_CI_JOB_ID=1", "CUSTOM_ENV_CI_PROJECT_ID=2", "CUSTOM_ENV_CI_CONCURRENT_ID=0", "CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=diff1"}
	j, err := jobinput.Load(environ, "")
	assert.NilError(t, err)
	dir := t.TempDir()
	refusedLocally, accepted, notFound := 0, 0, 0
	var mismatches []string
	for i := range cases {
		var body strings.Builder
		for _, k := range pick(rng, keys, 1+rng.IntN(3)) {
			vals := differentialValues[k]
			fmt.Fprintf(&body, "%s = %s\n", k, vals[rng.IntN(len(vals))])
		}
		path := filepath.Join(dir, fmt.Sprintf("case%d.toml", i))
		assert.NilError(t, os.WriteFile(path, []byte(body.String()), 0o600))
		cfg, err := config.Load(path)
		if err != nil {
			refusedLocally++
			continue
		}
		jc, err := config.ForJob(cfg, j, func(string) string { return "" })
		if err != nil {
			refusedLocally++
			continue
		}
		pods, err := podbuilder.Build(jc)
		if err != nil {
			refusedLocally++
			continue
		}
		for _, pod := range pods {
			pod.Namespace = "default" // the namespace's own name was checked locally
			_, err := kube.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			switch {
			case err == nil:
				accepted++
			case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
				notFound++ // a service account, priority class... this cluster lacks
			default:
				mismatches = append(mismatches, fmt.Sprintf("%s-> %v", body.String(), err))
			}
		}
	}
	t.Logf("differential: %d configurations: %d refused by k8sdrv, %d pods accepted by the API server, %d refused for missing objects, %d refused by the API server after k8sdrv accepted them",
		cases, refusedLocally, accepted, notFound, len(mismatches))
	for _, m := range mismatches {
		t.Errorf("accepted by k8sdrv, refused by the API server:\n%s", m)
	}
}

// pick returns n distinct elements of keys, in random order.
func pick(rng *rand.Rand, keys []string, n int) []string {
	perm := rng.Perm(len(keys))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, keys[i])
	}
	return out
}
