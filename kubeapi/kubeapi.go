// Package kubeapi is the slice of the Kubernetes API that k8sdrv uses:
// pods and their exec subresource, events, nodes, namespaces and
// PodDisruptionBudgets (namespaces.go), and existence checks
// (and, for `k8sdrv doctor`, the server's version and reviews of its own
// account's permissions, in review.go). It registers core/v1 only. client-go's full
// clientset registers every API group at process start (about 7 ms and a
// few MB per call of k8sdrv, which starts a new process for every stage),
// so production code talks through Pods, which client-go's typed pod
// client (and its fake, in tests) also satisfies.
package kubeapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Pods is what k8sdrv does with pods; client-go's PodInterface has the
// same methods.
type Pods interface {
	Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

var (
	scheme = func() *runtime.Scheme {
		s := runtime.NewScheme()
		if err := corev1.AddToScheme(s); err != nil {
			panic(err)
		}
		return s
	}()
	codecs = serializer.NewCodecFactory(scheme)

	// ParameterCodec encodes core/v1 options as query parameters.
	ParameterCodec = runtime.NewParameterCodec(scheme)
)

// NewRESTClient returns a REST client for the core/v1 API.
func NewRESTClient(config *rest.Config) (rest.Interface, error) {
	c := rest.CopyConfig(config)
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	client, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}

// PodClient implements Pods for one namespace over a core/v1 REST client.
type PodClient struct {
	Client    rest.Interface
	Namespace string
}

// Create creates a pod.
func (p PodClient) Create(ctx context.Context, pod *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.Client.Post().Namespace(p.Namespace).Resource("pods").
		VersionedParams(&opts, ParameterCodec).Body(pod).Do(ctx).Into(out)
	return out, err
}

// Get reads a pod.
func (p PodClient) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.Client.Get().Namespace(p.Namespace).Resource("pods").Name(name).
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// List lists pods.
func (p PodClient) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	out := &corev1.PodList{}
	err := p.Client.Get().Namespace(p.Namespace).Resource("pods").
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// Watch watches pods.
func (p PodClient) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return p.Client.Get().Namespace(p.Namespace).Resource("pods").
		VersionedParams(&opts, ParameterCodec).Watch(ctx)
}

// Delete deletes a pod.
func (p PodClient) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return p.Client.Delete().Namespace(p.Namespace).Resource("pods").Name(name).
		Body(&opts).Do(ctx).Error()
}

// Events is what k8sdrv reads of events; client-go's EventInterface has
// the same method.
type Events interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.EventList, error)
}

// EventClient implements Events for one namespace over a core/v1 REST client.
type EventClient struct {
	Client    rest.Interface
	Namespace string
}

// List lists events.
func (e EventClient) List(ctx context.Context, opts metav1.ListOptions) (*corev1.EventList, error) {
	out := &corev1.EventList{}
	err := e.Client.Get().Namespace(e.Namespace).Resource("events").
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// Nodes is what k8sdrv reads of nodes; client-go's NodeInterface has the
// same method.
type Nodes interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error)
}

// NodeClient implements Nodes over a core/v1 REST client.
type NodeClient struct {
	Client rest.Interface
}

// List lists nodes.
func (n NodeClient) List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error) {
	out := &corev1.NodeList{}
	err := n.Client.Get().Resource("nodes").
		VersionedParams(&opts, ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// Exists reports whether the named core/v1 object (e.g. resource
// "serviceaccounts" or "secrets") exists in namespace.
func Exists(ctx context.Context, client rest.Interface, namespace, resource, name string) (bool, error) {
	err := client.Get().Namespace(namespace).Resource(resource).Name(name).Do(ctx).Error()
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, err
	}
}
