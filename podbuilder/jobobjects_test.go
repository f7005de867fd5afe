package podbuilder_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// TestJobObjects pins what namespace_per_job and pod_disruption_budget
// add around the pod: testdata/job-objects.golden.yaml holds the job's
// namespace, its pod (in that namespace) and the budget of the pod once
// created (named after it, owned by it, selecting the job's labels).
func TestJobObjects(t *testing.T) {
	clearEnv(t)
	cfg, err := config.Load(golden.Path("job-objects.toml"))
	assert.NilError(t, err)
	j, err := job.Load(environ(nil), "")
	assert.NilError(t, err)
	jc, err := config.ForJob(cfg, j, noEnv)
	assert.NilError(t, err)
	pods, err := podbuilder.Build(jc)
	assert.NilError(t, err)
	created := pods[0].DeepCopy()
	created.Name, created.GenerateName, created.UID = created.GenerateName+"abcde", "", types.UID("0f4c6b1e-uid")

	var docs []string
	for _, obj := range []any{podbuilder.Namespace(jc), pods[0], podbuilder.DisruptionBudget(j, created)} {
		out, err := yaml.Marshal(obj)
		assert.NilError(t, err)
		docs = append(docs, string(out))
	}
	golden.Assert(t, strings.Join(docs, "---\n"), "job-objects.golden.yaml")
}

// TestDisruptionBudgetOfAPodNotYetCreated: a dry run's budget has no
// owner and takes the pod's generateName.
func TestDisruptionBudgetOfAPodNotYetCreated(t *testing.T) {
	clearEnv(t)
	cfg, err := config.Load("")
	assert.NilError(t, err)
	j, err := job.Load(environ(nil), "")
	assert.NilError(t, err)
	pod, err := build(cfg, j)
	assert.NilError(t, err)
	pdb := podbuilder.DisruptionBudget(j, pod)
	assert.Equal(t, pdb.Name, "")
	assert.Equal(t, pdb.GenerateName, pod.GenerateName)
	assert.Assert(t, len(pdb.OwnerReferences) == 0)
	assert.DeepEqual(t, pdb.Spec.Selector.MatchLabels, pod.Labels)
}
