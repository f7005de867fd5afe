package podbuilder

import (
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
)

// Namespace returns the job's own namespace (namespace_per_job), labelled
// and annotated like its pods: cleanup and `k8sdrv gc` find it by
// k8sdrv's labels and the job's identity, and never touch a namespace
// without them.
func Namespace(jc *config.JobConfig) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        jc.Namespace,
			Labels:      Labels(jc.Job),
			Annotations: annotations(jc.Job),
		},
	}
}

// DisruptionBudgetSuffix ends the name of a job pod's PodDisruptionBudget,
// as in GitLab Runner: <pod>-pdb.
const DisruptionBudgetSuffix = "-pdb"

// DisruptionBudget returns the PodDisruptionBudget of job j's pod
// (pod_disruption_budget): minAvailable 1 over the job's labels, so that
// the eviction API refuses to evict the running pod (a node drain waits
// for the job). The pod owns it, so that it goes when the pod goes; a pod
// not yet created (a dry run) has no UID to own it by, and its budget is
// named after its generateName.
func DisruptionBudget(j *job.Job, pod *corev1.Pod) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      pod.Name + DisruptionBudgetSuffix,
			Namespace: pod.Namespace,
			Labels:    Labels(j),
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &one,
			Selector:     &metav1.LabelSelector{MatchLabels: Labels(j)},
		},
	}
	if pod.Name == "" {
		pdb.Name, pdb.GenerateName = "", pod.GenerateName
	}
	if pod.UID != "" {
		pdb.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	}
	return pdb
}
