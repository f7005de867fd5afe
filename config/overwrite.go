package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Overwrites are the operator's gates for the job's KUBERNETES_*
// overwrite variables. Each regular expression must match the whole value
// (GitLab Runner matches anywhere in it: there "ci-.*" also admits
// "x-ci-y"); an empty one turns the overwrite off.
type Overwrites struct {
	NamespaceOverwriteAllowed      string `toml:"namespace_overwrite_allowed" envconfig:"K8SDRV_NAMESPACE_OVERWRITE_ALLOWED"`
	ServiceAccount                 string `toml:"service_account" envconfig:"K8SDRV_SERVICE_ACCOUNT"`
	ServiceAccountOverwriteAllowed string `toml:"service_account_overwrite_allowed" envconfig:"K8SDRV_SERVICE_ACCOUNT_OVERWRITE_ALLOWED"`
	BearerTokenOverwriteAllowed    bool   `toml:"bearer_token_overwrite_allowed" envconfig:"K8SDRV_BEARER_TOKEN_OVERWRITE_ALLOWED"`
	PodLabelsOverwriteAllowed      string `toml:"pod_labels_overwrite_allowed" envconfig:"K8SDRV_POD_LABELS_OVERWRITE_ALLOWED"`
	PodAnnotationsOverwriteAllowed string `toml:"pod_annotations_overwrite_allowed" envconfig:"K8SDRV_POD_ANNOTATIONS_OVERWRITE_ALLOWED"`
	// NodeTolerationsOverwriteAllowed gates KUBERNETES_NODE_TOLERATIONS_*,
	// whose values are "key[=value][:effect]" as a whole.
	NodeTolerationsOverwriteAllowed string `toml:"node_tolerations_overwrite_allowed" envconfig:"K8SDRV_NODE_TOLERATIONS_OVERWRITE_ALLOWED"`
	// NodeSelectorOverwriteAllowed gates KUBERNETES_NODE_SELECTOR_*,
	// whose values are "key=value" as a whole.
	NodeSelectorOverwriteAllowed string   `toml:"node_selector_overwrite_allowed" envconfig:"K8SDRV_NODE_SELECTOR_OVERWRITE_ALLOWED"`
	ImagePullSecrets             []string `toml:"image_pull_secrets" ignored:"true"`
	// UseServiceAccountImagePullSecrets leaves imagePullSecrets out of the
	// pod, so that those of its service account apply.
	UseServiceAccountImagePullSecrets bool `toml:"use_service_account_image_pull_secrets" envconfig:"K8SDRV_USE_SERVICE_ACCOUNT_IMAGE_PULL_SECRETS"`
	// AutomountServiceAccountToken, when set, is the pod's
	// automountServiceAccountToken: false keeps the API token out of the
	// job's containers.
	AutomountServiceAccountToken *bool `toml:"automount_service_account_token" envconfig:"K8SDRV_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN"`
}

// fullMatch compiles an overwrite gate so that it must match a whole value.
func fullMatch(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)$`)
}

func (o *Overwrites) validate(add func(key, format string, args ...any)) {
	for key, expr := range map[string]string{
		"namespace_overwrite_allowed":        o.NamespaceOverwriteAllowed,
		"service_account_overwrite_allowed":  o.ServiceAccountOverwriteAllowed,
		"pod_labels_overwrite_allowed":       o.PodLabelsOverwriteAllowed,
		"pod_annotations_overwrite_allowed":  o.PodAnnotationsOverwriteAllowed,
		"node_tolerations_overwrite_allowed": o.NodeTolerationsOverwriteAllowed,
		"node_selector_overwrite_allowed":    o.NodeSelectorOverwriteAllowed,
	} {
		if expr == "" {
			continue
		}
		if _, err := fullMatch(expr); err != nil {
			hint := ""
			if expr == "*" {
				hint = ` (to allow any value, write ".*")`
			}
			add(key, "%q is not a regular expression: %v%s", expr, err, hint)
		}
	}
	if o.ServiceAccount != "" {
		for _, msg := range validation.IsDNS1123Subdomain(o.ServiceAccount) {
			add("service_account", "%q is not a valid service account name: %s", o.ServiceAccount, msg)
		}
	}
	for i, s := range o.ImagePullSecrets {
		for _, msg := range validation.IsDNS1123Subdomain(s) {
			add(fmt.Sprintf("image_pull_secrets[%d]", i), "%q is not a valid secret name: %s", s, msg)
		}
	}
}

// JobError is a job's overwrite variable that the operator's settings
// refuse; the job fails before anything is created.
type JobError struct{ msg string }

func (e *JobError) Error() string { return e.msg }

func jobErrorf(format string, args ...any) error { return &JobError{fmt.Sprintf(format, args...)} }

// JobErrorf returns a refusal found outside config.ForJob (podbuilder's
// last check of the finished pod).
func JobErrorf(format string, args ...any) error { return jobErrorf(format, args...) }

// overwrite returns c with the job's overwrite variables (vars, the
// CUSTOM_ENV_ variables without prefix) applied where the operator's gates
// allow them, and every refusal. driverEnv reads k8sdrv's own environment,
// where KUBERNETES_SERVICE_ACCOUNT_OVERWRITE_ALLOWED may gate the service
// account as in GitLab Runner. Notes (ignored variables) are added to
// Warnings.
func (c *Config) overwrite(vars map[string]string, driverEnv func(string) string) (*Config, []error) {
	out := c.clone()
	var errs []error
	for _, step := range []func(map[string]string, func(string) string) []error{
		out.overwriteNamespace, out.overwriteServiceAccount, out.overwriteBearerToken,
		out.overwriteResources, out.overwriteLabels, out.overwriteAnnotations, out.overwriteTolerations,
		out.overwriteNodeSelector,
	} {
		errs = append(errs, step(vars, driverEnv)...)
	}
	return out, errs
}

// clone copies c deeply enough that ForJob never changes c.
func (c *Config) clone() *Config {
	out := *c
	out.Warnings = slices.Clone(c.Warnings)
	out.PodLabels = maps.Clone(c.PodLabels)
	out.PodAnnotations = maps.Clone(c.PodAnnotations)
	out.NodeTolerations = maps.Clone(c.NodeTolerations)
	out.NodeSelector = maps.Clone(c.NodeSelector)
	return &out
}

// gate applies one regex-gated overwrite: it returns the value to use and
// whether the job's variable was applied.
func (c *Config) gate(variable, value, key, expr string) (bool, error) {
	if value == "" {
		return false, nil
	}
	return c.gateAny(variable, value, key, expr)
}

// gateAny is gate for a variable whose empty value means something.
func (c *Config) gateAny(variable, value, key, expr string) (bool, error) {
	if expr == "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s is ignored: %s is not set", variable, key))
		return false, nil
	}
	re, err := fullMatch(expr)
	if err != nil {
		return false, err // Validate has already reported it
	}
	if !re.MatchString(value) {
		return false, jobErrorf("%s=%q is not allowed: it must match %s %q (the whole value)", variable, value, key, expr)
	}
	return true, nil
}

func (c *Config) overwriteNamespace(vars map[string]string, _ func(string) string) []error {
	v := vars["KUBERNETES_NAMESPACE_OVERWRITE"]
	if c.NamespacePerJob {
		if v != "" {
			c.Warnings = append(c.Warnings, "KUBERNETES_NAMESPACE_OVERWRITE is ignored: namespace_per_job runs every job in its own namespace")
		}
		return nil
	}
	ok, err := c.gate("KUBERNETES_NAMESPACE_OVERWRITE", v, "namespace_overwrite_allowed", c.NamespaceOverwriteAllowed)
	if !ok {
		return errList(err)
	}
	if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
		return errList(jobErrorf("KUBERNETES_NAMESPACE_OVERWRITE=%q is not a valid namespace: %s", v, msgs[0]))
	}
	c.Namespace = v
	return nil
}

func (c *Config) overwriteServiceAccount(vars map[string]string, driverEnv func(string) string) []error {
	expr := c.ServiceAccountOverwriteAllowed
	if expr == "" && driverEnv != nil {
		expr = driverEnv("KUBERNETES_SERVICE_ACCOUNT_OVERWRITE_ALLOWED")
	}
	v := vars["KUBERNETES_SERVICE_ACCOUNT_OVERWRITE"]
	ok, err := c.gate("KUBERNETES_SERVICE_ACCOUNT_OVERWRITE", v, "service_account_overwrite_allowed", expr)
	if !ok {
		return errList(err)
	}
	if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 {
		return errList(jobErrorf("KUBERNETES_SERVICE_ACCOUNT_OVERWRITE=%q is not a valid service account name: %s", v, msgs[0]))
	}
	c.ServiceAccount = v
	return nil
}

func (c *Config) overwriteBearerToken(vars map[string]string, _ func(string) string) []error {
	v := vars["KUBERNETES_BEARER_TOKEN"]
	switch {
	case v == "":
	case !c.BearerTokenOverwriteAllowed:
		c.Warnings = append(c.Warnings, "KUBERNETES_BEARER_TOKEN is ignored: bearer_token_overwrite_allowed is not set")
	case c.Host == "":
		return errList(jobErrorf("KUBERNETES_BEARER_TOKEN needs host in the k8sdrv configuration: a token without an API server address is not used"))
	default:
		c.BearerToken = v
	}
	return nil
}

func (c *Config) overwriteResources(vars map[string]string, _ func(string) string) []error {
	var errs []error
	for _, r := range c.Resources.Settings() {
		v := vars[r.Variable]
		if v == "" {
			continue
		}
		if *r.Max == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is ignored: %s_overwrite_max_allowed is not set", r.Variable, r.Key))
			continue
		}
		q, err := ParseQuantity(v)
		if err != nil {
			errs = append(errs, jobErrorf("%s: %v", r.Variable, err))
			continue
		}
		if max, _ := ParseQuantity(*r.Max); q.Cmp(max) > 0 {
			errs = append(errs, jobErrorf("%s=%s is above %s_overwrite_max_allowed (%s)", r.Variable, v, r.Key, *r.Max))
			continue
		}
		*r.Value = v
	}
	return errs
}

func (c *Config) overwriteLabels(vars map[string]string, _ func(string) string) []error {
	return c.overwriteMap(vars, mapOverwrite{"KUBERNETES_POD_LABELS_", "pod_labels_overwrite_allowed", c.PodLabelsOverwriteAllowed, splitKeyValue, false}, &c.PodLabels)
}

func (c *Config) overwriteAnnotations(vars map[string]string, _ func(string) string) []error {
	return c.overwriteMap(vars, mapOverwrite{"KUBERNETES_POD_ANNOTATIONS_", "pod_annotations_overwrite_allowed", c.PodAnnotationsOverwriteAllowed, splitKeyValue, false}, &c.PodAnnotations)
}

// overwriteTolerations adds the job's tolerations to node_tolerations;
// an empty value, as in GitLab Runner, tolerates every taint.
func (c *Config) overwriteTolerations(vars map[string]string, _ func(string) string) []error {
	return c.overwriteMap(vars, mapOverwrite{"KUBERNETES_NODE_TOLERATIONS_", "node_tolerations_overwrite_allowed", c.NodeTolerationsOverwriteAllowed, splitToleration, true}, &c.NodeTolerations)
}

// overwriteNodeSelector adds the job's KUBERNETES_NODE_SELECTOR_* entries
// ("key=value") to node_selector. Where helper_image is the default for
// the operator's node selector, it follows an architecture the job picks
// (kubernetes.io/arch), as the helper must run on the node.
func (c *Config) overwriteNodeSelector(vars map[string]string, _ func(string) string) []error {
	defaultHelper := c.HelperImage == DefaultHelperImageFor(c.HelperImageFlavor, c.NodeSelector)
	errs := c.overwriteMap(vars, mapOverwrite{"KUBERNETES_NODE_SELECTOR_", "node_selector_overwrite_allowed", c.NodeSelectorOverwriteAllowed, splitNodeSelector, false}, &c.NodeSelector)
	if defaultHelper {
		c.HelperImage = DefaultHelperImageFor(c.HelperImageFlavor, c.NodeSelector)
	}
	return errs
}

// mapOverwrite is one family of overwrite variables that add entries to
// a map setting: their name prefix, their gate, and how a value splits
// into the map's key and value (or why it cannot).
type mapOverwrite struct {
	prefix, key, expr string
	split             func(value string) (k, v, problem string)
	// emptyCounts: an empty value is an entry too, not an unset variable.
	emptyCounts bool
}

// overwriteMap adds the allowed variables of o to *m, in name order (a
// later name wins), each gated as a whole by o's regular expression.
func (c *Config) overwriteMap(vars map[string]string, o mapOverwrite, m *map[string]string) []error {
	var errs []error
	gate := c.gate
	if o.emptyCounts {
		gate = c.gateAny
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !strings.HasPrefix(name, o.prefix) {
			continue
		}
		ok, err := gate(name, vars[name], o.key, o.expr)
		if !ok {
			errs = append(errs, err)
			continue
		}
		k, v, problem := o.split(vars[name])
		if problem != "" {
			errs = append(errs, jobErrorf("%s=%q: %s", name, vars[name], problem))
			continue
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// splitKeyValue splits a label or annotation "KEY=VALUE"; label and
// annotation keys share the API server's rule.
func splitKeyValue(s string) (k, v, problem string) {
	k, v, found := strings.Cut(s, "=")
	if !found || k == "" {
		return "", "", "want KEY=VALUE"
	}
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		return "", "", fmt.Sprintf("%q is not a valid key: %s", k, msgs[0])
	}
	return k, v, ""
}

// splitNodeSelector splits a node selector "key=value": a label key and
// a label value, as the API server checks them.
func splitNodeSelector(s string) (k, v, problem string) {
	k, v, problem = splitKeyValue(s)
	if problem != "" {
		return "", "", problem
	}
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return "", "", fmt.Sprintf("%q is not a valid label value: %s", v, msgs[0])
	}
	return k, v, ""
}

// splitToleration splits "key[=value][:effect]" into node_tolerations'
// key ("key" or "key=value") and value (the effect), as GitLab Runner
// does: the first ":" ends the key and value.
func splitToleration(s string) (k, v, problem string) {
	k, v, _ = strings.Cut(s, ":")
	return k, v, TolerationProblem(k, v)
}

// errList is err as a list: empty when err is nil.
func errList(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

func splitComma(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
