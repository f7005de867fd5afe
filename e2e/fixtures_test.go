package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sdrv/k8sdrv/config"
	jobinput "github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// TestIntegrationAPIServerAcceptsEveryFixture: the pod of every podbuilder
// golden fixture passes the real kube-apiserver's validation and admission
// (a server-side dry run: nothing is created). The golden files say what
// k8sdrv builds; this says Kubernetes takes it.
func TestIntegrationAPIServerAcceptsEveryFixture(t *testing.T) {
	skipShort(t)
	ensureClusterObjects(t)
	fixtures, err := filepath.Glob("../podbuilder/testdata/*.toml")
	assert.NilError(t, err)
	assert.Assert(t, len(fixtures) > 5)
	environ := []string{"CUSTOM_ENV_CI_JOB_ID=1", "CUSTOM_ENV_CI_PROJECT_ID=2", "CUSTOM_ENV_CI_CONCURRENT_ID=0", "CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=fixture1"}
	for _, fixture := range fixtures {
		name := strings.TrimSuffix(filepath.Base(fixture), ".toml")
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(fixture)
			assert.NilError(t, err)
			response := strings.TrimSuffix(fixture, ".toml") + ".job.json"
			if _, err := os.Stat(response); errors.Is(err, os.ErrNotExist) {
				response = ""
			}
			j, err := jobinput.Load(environ, response)
			assert.NilError(t, err)
			// Every pull attempt of the pod, as prepare would create it.
			for _, pod := range buildPods(t, cfg, j) {
				pod.Namespace = "default" // fixtures name namespaces this cluster lacks
				_, err = kube.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				assert.NilError(t, err)
			}
		})
	}
}

// ensureClusterObjects creates the cluster-scoped objects the fixtures
// refer to, as an operator's cluster would have them.
func ensureClusterObjects(t *testing.T) {
	ctx := context.Background()
	_, err := kube.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "priority-1"}, Value: 1000,
	}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		assert.NilError(t, err)
	}
	_, err = kube.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "kata"}, Handler: "kata",
	}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		assert.NilError(t, err)
	}
	_, err = kube.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "gitlab-ci-builds"},
	}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		assert.NilError(t, err)
	}
}

// buildPods checks job j against cfg and builds its pods, as prepare does.
func buildPods(t testing.TB, cfg *config.Config, j *jobinput.Job) []*corev1.Pod {
	t.Helper()
	jc, err := config.ForJob(cfg, j, func(string) string { return "" })
	assert.NilError(t, err)
	pods, err := podbuilder.Build(jc)
	assert.NilError(t, err)
	return pods
}
