package config

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/k8sdrv/k8sdrv/job"
)

// maskedToken is a masked value with the characters quoting escapes.
const maskedToken = `tok"en\12345`

// maskedJob has the masked variable TOKEN and a plain one, and adds the
// given overwrite variables.
func maskedJob(overwrites map[string]string) *job.Job {
	vars := map[string]string{"TOKEN": maskedToken, "TEAM": "ml"}
	for k, v := range overwrites {
		vars[k] = v
	}
	return &job.Job{Variables: vars, Masked: []string{maskedToken}, MaskedNames: []string{"TOKEN"}}
}

// TestForJobRefusesMaskedValuesInThePod: a pod's labels, annotations and
// names are stored in the cluster for anyone who may read pods; a masked
// value that an expansion or an overwrite variable would put there fails
// the job, naming the setting and the variable but never the value.
func TestForJobRefusesMaskedValuesInThePod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*Config)
		vars   map[string]string
		want   string
	}{
		{
			name:   "operator annotation expanding a masked variable",
			config: func(c *Config) { c.PodAnnotations = map[string]string{"example.com/token": "t=$TOKEN"} },
			want:   `pod_annotations "example.com/token": it would hold masked variable TOKEN`,
		},
		{
			name:   "operator label expanding a masked variable",
			config: func(c *Config) { c.PodLabels = map[string]string{"token": "${TOKEN}"} },
			want:   `pod_labels "token": it would hold masked variable TOKEN`,
		},
		{
			name: "job annotation naming a masked variable",
			vars: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "example.com/leak=$TOKEN"},
			want: `KUBERNETES_POD_ANNOTATIONS_* "example.com/leak": it would hold masked variable TOKEN`,
		},
		{
			name: "job annotation holding a masked value",
			vars: map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "example.com/leak=" + maskedToken},
			want: `KUBERNETES_POD_ANNOTATIONS_* "example.com/leak": it would hold masked variable TOKEN`,
		},
		{
			name: "job label naming a masked variable",
			vars: map[string]string{"KUBERNETES_POD_LABELS_1": "team=$TOKEN"},
			want: `KUBERNETES_POD_LABELS_* "team": it would hold masked variable TOKEN`,
		},
		{
			name:   "claim name expanding a masked variable",
			config: func(c *Config) { c.Volumes.PVC = []PVCVolume{{Mount: Mount{Name: "cache-$TOKEN", MountPath: "/c"}}} },
			want:   `volumes.pvc "cache-$TOKEN": it would hold masked variable TOKEN`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			c.PodLabelsOverwriteAllowed = ".*"
			c.PodAnnotationsOverwriteAllowed = ".*"
			if tc.config != nil {
				tc.config(c)
			}
			_, err := ForJob(c, maskedJob(tc.vars), nil)
			assert.ErrorContains(t, err, tc.want)
			var jobErr *JobError
			assert.Assert(t, errors.As(err, &jobErr), "a job error: a build failure, not retried")
			assert.Assert(t, !strings.Contains(err.Error(), "12345"), err.Error())
		})
	}
}

// TestForJobExpandsPlainVariables: variables that are not masked still
// expand, and an overwrite that is ignored puts nothing into the pod.
func TestForJobExpandsPlainVariables(t *testing.T) {
	c := &Config{}
	c.PodLabels = map[string]string{"team": "$TEAM"}
	jc, err := ForJob(c, maskedJob(map[string]string{"KUBERNETES_POD_ANNOTATIONS_1": "leak=$TOKEN"}), nil)
	assert.NilError(t, err)
	assert.DeepEqual(t, jc.Warnings, []string{"KUBERNETES_POD_ANNOTATIONS_1 is ignored: pod_annotations_overwrite_allowed is not set"})
}

// TestForJobRefusesMaskedNodeSelector: a node selector is stored in the pod
// too, and a masked value may well be a valid label value.
func TestForJobRefusesMaskedNodeSelector(t *testing.T) {
	c := &Config{Namespace: "gitlab"}
	c.NodeSelectorOverwriteAllowed = ".*"
	j := &job.Job{
		Variables:   map[string]string{"POOL_SECRET": "s3cr3tPool99", "KUBERNETES_NODE_SELECTOR_1": "example.com/pool=s3cr3tPool99"},
		Masked:      []string{"s3cr3tPool99"},
		MaskedNames: []string{"POOL_SECRET"},
	}
	_, err := ForJob(c, j, func(string) string { return "" })
	assert.Error(t, err, `KUBERNETES_NODE_SELECTOR_* "example.com/pool": it would hold masked variable POOL_SECRET, and masked values never go into the pod`)
	assert.Assert(t, !strings.Contains(err.Error(), "s3cr3tPool99"))
}
