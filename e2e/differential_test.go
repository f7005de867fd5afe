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
