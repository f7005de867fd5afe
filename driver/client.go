package driver

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// Cluster is the Kubernetes API as k8sdrv uses it: pods, their events,
// the nodes (to tell whether a pod can ever fit one), the job's own
// namespace (namespace_per_job) and its pod's PodDisruptionBudget
// (pod_disruption_budget), the existence of the service account and pull
// secrets a pod names, exec into the job's pod, a container's log (a failed
// service's last lines), and what `k8sdrv doctor` asks about k8sdrv's
// own account. A test adapts client-go's fake clientset to it.
type Cluster interface {
	Pods(namespace string) kubeapi.Pods
	Events(namespace string) kubeapi.Events
	Nodes() kubeapi.Nodes
	Namespaces() kubeapi.Namespaces
	DisruptionBudgets(namespace string) kubeapi.DisruptionBudgets
	ServiceAccountExists(ctx context.Context, namespace, name string) (bool, error)
	SecretExists(ctx context.Context, namespace, name string) (bool, error)
	Executor(namespace, pod string) attach.Executor
	PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) ([]byte, error)
	ServerVersion(ctx context.Context) (*version.Info, error)
	AccessReviews() kubeapi.AccessReviews
	SelfReviews() kubeapi.SelfReviews
}

// Connect builds the cluster access without contacting the API server:
// an explicit host (with certificates or a bearer token) when configured,
// else the in-cluster service account, else the kubeconfig (KUBECONFIG,
// ~/.kube/config, current context). throttled, when not nil, is called
// once, the first time the API server answers 429 (see kubeapi.OnThrottled).
func Connect(cfg *config.Config, userAgent string, throttled func(retryAfter time.Duration)) (Cluster, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = userAgent
	// k8sdrv makes a handful of calls per job; never throttle them.
	rc.QPS, rc.Burst = 100, 200
	if throttled != nil {
		kubeapi.OnThrottled(rc, throttled)
	}
	core, err := kubeapi.NewRESTClient(rc)
	if err != nil {
		return nil, err
	}
	return &apiCluster{rc: rc, core: core}, nil
}

// apiCluster is Cluster over a core/v1 REST client.
type apiCluster struct {
	rc   *rest.Config
	core rest.Interface
}

func (c *apiCluster) Pods(namespace string) kubeapi.Pods {
	return kubeapi.PodClient{Client: c.core, Namespace: namespace}
}

func (c *apiCluster) Events(namespace string) kubeapi.Events {
	return kubeapi.EventClient{Client: c.core, Namespace: namespace}
}

func (c *apiCluster) Nodes() kubeapi.Nodes {
	return kubeapi.NodeClient{Client: c.core}
}

func (c *apiCluster) Namespaces() kubeapi.Namespaces {
	return kubeapi.NamespaceClient{Client: c.core}
}

func (c *apiCluster) DisruptionBudgets(namespace string) kubeapi.DisruptionBudgets {
	return kubeapi.DisruptionBudgetClient{Client: c.core, Namespace: namespace}
}

func (c *apiCluster) ServiceAccountExists(ctx context.Context, namespace, name string) (bool, error) {
	// kubeAPI: serviceaccounts, get
	return kubeapi.Exists(ctx, c.core, namespace, "serviceaccounts", name)
}

func (c *apiCluster) SecretExists(ctx context.Context, namespace, name string) (bool, error) {
	// kubeAPI: secrets, get
	return kubeapi.Exists(ctx, c.core, namespace, "secrets", name)
}

func (c *apiCluster) Executor(namespace, pod string) attach.Executor {
	return &attach.PodExecutor{Config: c.rc, Client: c.core, Namespace: namespace, Pod: pod}
}

func (c *apiCluster) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) ([]byte, error) {
	// kubeAPI: pods/log, get
	return c.core.Get().Namespace(namespace).Resource("pods").Name(pod).SubResource("log").
		VersionedParams(opts, kubeapi.ParameterCodec).DoRaw(ctx)
}

func (c *apiCluster) ServerVersion(ctx context.Context) (*version.Info, error) {
	return kubeapi.ServerVersion(ctx, c.core)
}

func (c *apiCluster) AccessReviews() kubeapi.AccessReviews {
	return kubeapi.AccessReviewClient{Client: c.core}
}

func (c *apiCluster) SelfReviews() kubeapi.SelfReviews {
	return kubeapi.SelfReviewClient{Client: c.core}
}

func restConfig(cfg *config.Config) (*rest.Config, error) {
	if cfg.Host != "" {
		return &rest.Config{
			Host:        cfg.Host,
			BearerToken: cfg.BearerToken,
			TLSClientConfig: rest.TLSClientConfig{
				CertFile: cfg.CertFile,
				KeyFile:  cfg.KeyFile,
				CAFile:   cfg.CAFile,
			},
		}, nil
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return rc, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster configured (set host in the k8sdrv config, run in a pod, or provide a kubeconfig): %w", err)
	}
	return rc, nil
}
