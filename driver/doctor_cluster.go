package driver

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/k8sdrv/k8sdrv/config"
	"github.com/k8sdrv/k8sdrv/job"
	"github.com/k8sdrv/k8sdrv/kubeapi"
	"github.com/k8sdrv/k8sdrv/podbuilder"
)

// doctorCallTimeout bounds each of doctor's API calls.
const doctorCallTimeout = 10 * time.Second

// apiServerCheck reads the API server's version three times (the median
// round trip is the latency a stage sees per call) and asks who k8sdrv's
// account is; who is "" when the server does not say.
func apiServerCheck(ctx context.Context, cluster Cluster) (Check, string) {
	var info *version.Info
	var trips []time.Duration
	for range 3 {
		callCtx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
		start := time.Now()
		var err error
		info, err = cluster.ServerVersion(callCtx)
		cancel()
		if err != nil {
			return failed("api server", "get /version: "+err.Error(), apiServerFix(err)), ""
		}
		trips = append(trips, time.Since(start))
	}
	slices.Sort(trips)
	detail := fmt.Sprintf("reachable, Kubernetes %s, round trip %s (median of 3)", info.GitVersion, trips[1].Round(100*time.Microsecond))
	who := whoAmI(ctx, cluster)
	if who != "" {
		detail += ", as " + who
	}
	return passed("api server", detail), who
}

func apiServerFix(err error) string {
	if apierrors.IsUnauthorized(err) {
		return "the API server does not accept k8sdrv's credentials: renew bearer_token, the client certificate or the kubeconfig's user"
	}
	return "check host (or the kubeconfig's server), that it answers from this machine, and its CA (ca_file)"
}

// whoAmI is the user name of k8sdrv's account, or "" when the server
// does not say (older than Kubernetes 1.28, or the review is refused).
func whoAmI(ctx context.Context, cluster Cluster) string {
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	// kubeAPI: none: every authenticated user may create selfsubjectreviews
	review, err := cluster.SelfReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return review.Status.UserInfo.Username
}

// permissionNeeds says, for the permissions that not every setup needs,
// whether cfg needs it and why; any other permission is always needed.
// A test holds its keys to the generated list.
var permissionNeeds = map[string]func(cfg *config.Config) (bool, string){
	"nodes list": func(*config.Config) (bool, string) {
		return false, "optional: with it, prepare fails at once a pod that is larger than any node, instead of at poll_timeout"
	},
	"events list": func(cfg *config.Config) (bool, string) {
		if cfg.PrintPodWarningEvents != nil && !*cfg.PrintPodWarningEvents {
			return false, "not needed with print_pod_warning_events = false"
		}
		return true, "for print_pod_warning_events (on by default) and a cluster autoscaler's events"
	},
	"pods/log get": func(*config.Config) (bool, string) {
		return false, "optional: with it, a service that fails or never listens during prepare is reported with its last log lines"
	},
	"serviceaccounts get": objectsCheckNeed,
	"secrets get":         objectsCheckNeed,
	"poddisruptionbudgets create": func(cfg *config.Config) (bool, string) {
		if !cfg.PodDisruptionBudget {
			return false, "not needed without pod_disruption_budget"
		}
		return true, "for pod_disruption_budget"
	},
	"namespaces create": namespacePerJobNeed,
	"namespaces delete": namespacePerJobNeed,
	"namespaces get":    namespacePerJobNeed,
	"namespaces list":   namespacePerJobNeed,
	"namespaces watch":  namespacePerJobNeed,
}

func namespacePerJobNeed(cfg *config.Config) (bool, string) {
	if !cfg.NamespacePerJob {
		return false, "not needed without namespace_per_job"
	}
	return true, "for namespace_per_job"
}

func objectsCheckNeed(cfg *config.Config) (bool, string) {
	if cfg.ResourceAvailabilityCheckMaxAttempts <= 0 {
		return false, "not needed while resource_availability_check_max_attempts is 0 (doctor uses it to check the objects below)"
	}
	return true, "for resource_availability_check_max_attempts"
}

// permissionChecks asks the API server, for every permission k8sdrv's
// code uses, whether k8sdrv's account has it in the configured namespace
// (or cluster-wide). who names the account in the fixes.
func permissionChecks(ctx context.Context, cluster Cluster, cfg *config.Config, who string) []Check {
	if who == "" {
		who = "k8sdrv's account"
	}
	var checks []Check
	for _, p := range permissions {
		checks = append(checks, permissionCheck(ctx, cluster, cfg, p, who))
	}
	return checks
}

func permissionCheck(ctx context.Context, cluster Cluster, cfg *config.Config, p permission, who string) Check {
	qualified := p.qualified()
	name := "permission " + qualified + " " + p.verb
	where, ns := "in namespace "+cfg.Namespace, cfg.Namespace
	switch {
	case p.clusterWide:
		where, ns = "cluster-wide", ""
	case cfg.NamespacePerJob:
		// Each job's namespace is new: only a grant in every namespace
		// reaches it.
		where, ns = "in every namespace (namespace_per_job)", ""
	}
	resource, sub, _ := strings.Cut(p.resource, "/")
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	// kubeAPI: none: every authenticated user may create selfsubjectaccessreviews
	review, err := cluster.AccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: p.verb, Group: p.group, Resource: resource, Subresource: sub,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return failed(name, kubeapi.Failed("create", "selfsubjectaccessreview", "", "", err).Error(), apiServerFix(err))
	}
	needed, why := true, ""
	if need := permissionNeeds[p.resource+" "+p.verb]; need != nil {
		needed, why = need(cfg)
	}
	if review.Status.Allowed {
		return passed(name, semicolonJoin("granted "+where, why))
	}
	grant := fmt.Sprintf("grant %s on %s %s to %s (examples/rbac.yaml)", p.verb, qualified, where, who)
	if !needed {
		return Check{Name: name, OK: true, Detail: "not granted " + where + "; " + why, Fix: "to have it, " + grant}
	}
	return failed(name, semicolonJoin("not granted "+where, why, review.Status.Reason), grant)
}

func semicolonJoin(parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "; ")
}

// objectChecks check that the service account and image pull secrets the
// configuration names exist in the namespace.
func objectChecks(ctx context.Context, cluster Cluster, cfg *config.Config) []Check {
	var checks []Check
	if cfg.ServiceAccount != "" {
		checks = append(checks, objectCheck(ctx, cfg.Namespace, "service account", cfg.ServiceAccount, cluster.ServiceAccountExists,
			fmt.Sprintf("create it (kubectl create serviceaccount %s -n %s), or correct service_account", cfg.ServiceAccount, cfg.Namespace)))
	}
	for _, s := range cfg.ImagePullSecrets {
		if cfg.UseServiceAccountImagePullSecrets {
			checks = append(checks, passed("image pull secret "+s, "not used: use_service_account_image_pull_secrets leaves image_pull_secrets out of the pod"))
			continue
		}
		checks = append(checks, objectCheck(ctx, cfg.Namespace, "image pull secret", s, cluster.SecretExists,
			fmt.Sprintf("create it (kubectl create secret docker-registry %s -n %s ...), or remove it from image_pull_secrets", s, cfg.Namespace)))
	}
	return checks
}

func objectCheck(ctx context.Context, ns, kind, name string, exists func(context.Context, string, string) (bool, error), fix string) Check {
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	check := kind + " " + name
	ok, err := exists(ctx, ns, name)
	switch {
	case apierrors.IsForbidden(err):
		return passed(check, "not checked: k8sdrv's account may not get it in namespace "+ns)
	case err != nil:
		return failed(check, kubeapi.Failed("get", kind, ns, name, err).Error(), "see the error")
	case !ok:
		return failed(check, "does not exist in namespace "+ns, fix)
	}
	return passed(check, "exists in namespace "+ns)
}

// doctorJob is the job doctor builds pods for: none, but a runner's token
// for the labels and poll_timeout as its timeout, so that a probe pod has
// an activeDeadlineSeconds, after which `k8sdrv gc` collects it.
func doctorJob(cfg *config.Config, runner string) (*config.JobConfig, error) {
	return config.ForJob(cfg, &job.Job{RunnerShortToken: runner, Timeout: int64(cfg.PollTimeout)}, os.Getenv)
}

// dryRunCheck has the API server check a job's pod without creating it
// (server-side dry run): the namespace exists, admission (Pod Security,
// the service account, LimitRanges, webhooks) accepts it.
func (d *Driver) dryRunCheck(ctx context.Context, cluster Cluster, cfg *config.Config) Check {
	const name = "job pod"
	jc, err := doctorJob(cfg, "")
	if err != nil {
		return failed(name, err.Error(), "correct the configuration")
	}
	if cfg.NamespacePerJob {
		return namespaceDryRunCheck(ctx, cluster, jc)
	}
	pods, err := podbuilder.Build(jc)
	if err != nil {
		return failed(name, "build pod: "+err.Error(), "correct the configuration")
	}
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	// kubeAPI: pods, create
	_, err = cluster.Pods(cfg.Namespace).Create(ctx, pods[0], metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return failed(name, "server-side dry run: "+kubeapi.Failed("create", "pod", cfg.Namespace, "", err).Error(), dryRunFix(err, cfg.Namespace))
	}
	return passed(name, "namespace "+cfg.Namespace+" accepts it (server-side dry run: admission, service account, limits)")
}

func dryRunFix(err error, ns string) string {
	msg := err.Error()
	switch {
	case apierrors.IsNotFound(err) && strings.Contains(msg, "namespace"):
		return fmt.Sprintf("create namespace %s, or set namespace in the k8sdrv config to an existing one", ns)
	case strings.Contains(msg, "PodSecurity"):
		return "the namespace's Pod Security level refuses the pod: set the security contexts it asks for in the k8sdrv config, or lower the namespace's pod-security.kubernetes.io/enforce label"
	case apierrors.IsForbidden(err) && strings.Contains(msg, "service account"), strings.Contains(msg, "serviceaccount"):
		return "create the service account, or correct service_account"
	case apierrors.IsForbidden(err):
		return "see the permission lines above"
	}
	return "the API server refuses the pod k8sdrv would create: correct the setting the message names"
}

// namespaceDryRunCheck, under namespace_per_job, has the API server check
// the creation of a job's namespace without making it: a pod cannot be
// checked in a namespace that does not exist yet.
func namespaceDryRunCheck(ctx context.Context, cluster Cluster, jc *config.JobConfig) Check {
	const name = "job namespace"
	jc.Job.ID = "0"
	jc.Namespace = config.JobNamespace(jc.Job.ID)
	ns := podbuilder.Namespace(jc)
	ctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	// kubeAPI: namespaces, create
	_, err := cluster.Namespaces().Create(ctx, ns, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return failed(name, "server-side dry run: "+kubeapi.Failed("create", "namespace", "", ns.Name, err).Error(),
			"see the permission lines above; admission must let k8sdrv create namespaces ci-job-<job id>")
	}
	return passed(name, "the API server would create namespace "+ns.Name+" (server-side dry run); with namespace_per_job the pod is checked only when a job runs, in its own namespace")
}
