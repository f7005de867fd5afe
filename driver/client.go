package driver

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sdrv/k8sdrv/attach"
	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/kubeapi"
)

// Cluster is k8sdrv's access to the Kubernetes API: pods, and exec into
// the job pod.
type Cluster struct {
	// Pods returns the pod API of a namespace.
	Pods func(namespace string) kubeapi.Pods
	// Events returns the event API of a namespace.
	Events func(namespace string) kubeapi.Events
	// Exists reports whether a core/v1 object exists.
	Exists func(ctx context.Context, namespace, resource, name string) (bool, error)
	// Executor returns an attach.Executor for a pod.
	Executor func(namespace, pod string) attach.Executor
}

// Connect builds the cluster access without contacting the API server:
// an explicit host (with certificates or a bearer token) when configured,
// else the in-cluster service account, else the kubeconfig (KUBECONFIG,
// ~/.kube/config, current context).
func Connect(cfg *config.Config, userAgent string) (*Cluster, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = userAgent
	// k8sdrv makes a handful of calls per job; never throttle them.
	rc.QPS, rc.Burst = 100, 200
	core, err := kubeapi.NewRESTClient(rc)
	if err != nil {
		return nil, err
	}
	return &Cluster{
		Pods:   func(namespace string) kubeapi.Pods { return kubeapi.PodClient{Client: core, Namespace: namespace} },
		Events: func(namespace string) kubeapi.Events { return kubeapi.EventClient{Client: core, Namespace: namespace} },
		Exists: func(ctx context.Context, namespace, resource, name string) (bool, error) {
			// kubeAPI: serviceaccounts, get
			// kubeAPI: secrets, get
			return kubeapi.Exists(ctx, core, namespace, resource, name)
		},
		Executor: func(namespace, pod string) attach.Executor {
			return &attach.PodExecutor{Config: rc, Client: core, Namespace: namespace, Pod: pod}
		},
	}, nil
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
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster configured (set host in the k8sdrv config, run in a pod, or provide a kubeconfig): %w", err)
	}
	return rc, nil
}
