package kubeapi

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Namespaces is what k8sdrv does with namespaces (namespace_per_job);
// client-go's NamespaceInterface has the same methods.
type Namespaces interface {
	Create(ctx context.Context, ns *corev1.Namespace, opts metav1.CreateOptions) (*corev1.Namespace, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Namespace, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NamespaceList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// NamespaceClient implements Namespaces over a core/v1 REST client.
type NamespaceClient struct {
	Client rest.Interface
}

// Create creates a namespace.
func (n NamespaceClient) Create(ctx context.Context, ns *corev1.Namespace, opts metav1.CreateOptions) (*corev1.Namespace, error) {
	out := &corev1.Namespace{}
	err := n.Client.Post().Resource("namespaces").
		VersionedParams(&opts, ParameterCodec).Body(ns).Do(ctx).Into(out)
	return out, err
}

// Get reads a namespace.
func (n NamespaceClient) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Namespace, error) {
	out := &corev1.Namespace{}
	err := n.Client.Get().Resource("namespaces").Name(name).
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// List lists namespaces.
func (n NamespaceClient) List(ctx context.Context, opts metav1.ListOptions) (*corev1.NamespaceList, error) {
	out := &corev1.NamespaceList{}
	err := n.Client.Get().Resource("namespaces").
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// Watch watches namespaces.
func (n NamespaceClient) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return n.Client.Get().Resource("namespaces").
		VersionedParams(&opts, ParameterCodec).Watch(ctx)
}

// Delete deletes a namespace.
func (n NamespaceClient) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return n.Client.Delete().Resource("namespaces").Name(name).
		Body(&opts).Do(ctx).Error()
}

// DisruptionBudgets is what k8sdrv does with PodDisruptionBudgets
// (pod_disruption_budget); client-go's PodDisruptionBudgetInterface has
// the same method.
type DisruptionBudgets interface {
	Create(ctx context.Context, pdb *policyv1.PodDisruptionBudget, opts metav1.CreateOptions) (*policyv1.PodDisruptionBudget, error)
}

// DisruptionBudgetClient implements DisruptionBudgets for one namespace.
// policy/v1 is outside core/v1: the budget travels as JSON over the core
// client, so that only jobs that ask for one pay for it.
type DisruptionBudgetClient struct {
	Client    rest.Interface
	Namespace string
}

// Create creates a PodDisruptionBudget.
func (p DisruptionBudgetClient) Create(ctx context.Context, pdb *policyv1.PodDisruptionBudget, _ metav1.CreateOptions) (*policyv1.PodDisruptionBudget, error) {
	pdb = pdb.DeepCopy()
	pdb.APIVersion, pdb.Kind = policyv1.SchemeGroupVersion.String(), "PodDisruptionBudget"
	out := &policyv1.PodDisruptionBudget{}
	return out, postJSON(ctx, p.Client, "/apis/policy/v1/namespaces/"+p.Namespace+"/poddisruptionbudgets", pdb, out)
}
