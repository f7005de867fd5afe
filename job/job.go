// Package job reads what gitlab-runner tells k8sdrv about the current CI job:
// the CUSTOM_ENV_* variables and the job response JSON at JOB_RESPONSE_FILE.
// Everything here is job-controlled input: it selects images and services and
// fills labels and annotations, but never changes an operator setting.
package job

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Job is the part of a CI job that shapes its pod.
type Job struct {
	ID               string
	URL              string
	Name             string
	ProjectID        string
	ConcurrentID     string
	RunnerShortToken string
	CommitSHA        string
	CommitBeforeSHA  string
	CommitRef        string

	// Image is the job's image; its Name is empty when the job has none.
	Image    Image
	Services []Service

	// Variables holds every CUSTOM_ENV_* variable without its prefix.
	Variables map[string]string
	// Masked lists the values of masked variables, to scrub from messages.
	Masked []string
	// MaskedNames lists the names of the masked variables, sorted.
	MaskedNames []string
	// Timeout is the job's timeout in seconds (0: unknown).
	Timeout int64
}

// maxActiveDeadline is the largest activeDeadlineSeconds the API server
// accepts.
const maxActiveDeadline = math.MaxUint32

// ActiveDeadline returns the pod's activeDeadlineSeconds: the job timeout
// plus one second (at most what the API server accepts), unless the job
// turns FF_USE_POD_ACTIVE_DEADLINE_SECONDS off (it is on by default, as in
// GitLab Runner) or has no timeout.
func (j *Job) ActiveDeadline() *int64 {
	if j.Timeout <= 0 {
		return nil
	}
	if on, err := strconv.ParseBool(j.Variables["FF_USE_POD_ACTIVE_DEADLINE_SECONDS"]); err == nil && !on {
		return nil
	}
	d := min(j.Timeout, maxActiveDeadline-1) + 1
	return &d
}

// Image is the job's `image:` as the job response carries it.
type Image struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias"`
	Entrypoint []string `json:"entrypoint"`
	Command    []string `json:"command"`
	PullPolicy []string `json:"pull_policy"`
	// Ports are the ports the image's `ports:` declares.
	Ports []Port `json:"ports"`
	// ExecutorOptions holds the image's `kubernetes:` options.
	ExecutorOptions ExecutorOptions `json:"executor_opts"`
}

// ExecutorOptions are an image's executor options; k8sdrv reads those of
// the Kubernetes executor.
type ExecutorOptions struct {
	Kubernetes struct {
		// User is "uid[:gid]", $VARIABLES not yet expanded.
		User StringOrNumber `json:"user"`
	} `json:"kubernetes"`
}

// StringOrNumber is a JSON string or number, kept as written.
type StringOrNumber string

// UnmarshalJSON takes a string or a number (`user: 1000` arrives as one).
func (s *StringOrNumber) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		*s = StringOrNumber(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", data)
	}
	*s = StringOrNumber(n)
	return nil
}

// Service is one entry of the job's `services:`.
type Service struct {
	Image
	Variables []Variable `json:"variables"`
}

// Aliases returns the service's explicit aliases (a comma- or space-separated list).
func (s Service) Aliases() []string {
	return strings.FieldsFunc(s.Alias, func(r rune) bool { return r == ',' || r == ' ' })
}

// Port is one entry of an image's or a service's `ports:`.
type Port struct {
	Number   int    `json:"number"`
	Protocol string `json:"protocol"`
	Name     string `json:"name"`
}

// HealthcheckVariable is the service variable that names the TCP port on
// which the service answers once it is ready, as in GitLab Runner.
const HealthcheckVariable = "HEALTHCHECK_TCP_PORT"

// ReadinessPorts returns the TCP ports on which the service must accept
// connections before the job's stages start: its HEALTHCHECK_TCP_PORT
// variable when it has one (the last, when set twice), else the ports
// its `ports:` declares (over TCP, whatever their protocol: GitLab's are
// http and https), else none. An error names a value that is no port.
func (s Service) ReadinessPorts() ([]int, error) {
	for _, v := range slices.Backward(s.Variables) {
		if v.Key != HealthcheckVariable {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v.Value))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("variable %s: %q is not a TCP port (1-65535)", HealthcheckVariable, v.Value)
		}
		return []int{n}, nil
	}
	var ports []int
	for _, p := range s.Ports {
		if p.Number < 1 || p.Number > 65535 {
			return nil, fmt.Errorf("ports: %d is not a TCP port (1-65535)", p.Number)
		}
		if !slices.Contains(ports, p.Number) {
			ports = append(ports, p.Number)
		}
	}
	return ports, nil
}

// Variable is a job or service variable from the job response.
type Variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
	File   bool   `json:"file"`
}

// response is the subset of the job response JSON that k8sdrv reads.
type response struct {
	Image      *Image     `json:"image"`
	Services   []Service  `json:"services"`
	Variables  []Variable `json:"variables"`
	RunnerInfo struct {
		Timeout int64 `json:"timeout"`
	} `json:"runner_info"`
}

// EnvPrefix marks the job variables gitlab-runner passes to the driver.
const EnvPrefix = "CUSTOM_ENV_"

// Load builds the Job from environ (os.Environ() form) and, when
// responseFile is set, from the job response JSON it names.
func Load(environ []string, responseFile string) (*Job, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, EnvPrefix) {
			vars[strings.TrimPrefix(name, EnvPrefix)] = value
		}
	}
	j := &Job{
		ID:               vars["CI_JOB_ID"],
		URL:              vars["CI_JOB_URL"],
		Name:             vars["CI_JOB_NAME"],
		ProjectID:        vars["CI_PROJECT_ID"],
		ConcurrentID:     vars["CI_CONCURRENT_ID"],
		RunnerShortToken: vars["CI_RUNNER_SHORT_TOKEN"],
		CommitSHA:        vars["CI_COMMIT_SHA"],
		CommitBeforeSHA:  vars["CI_COMMIT_BEFORE_SHA"],
		CommitRef:        vars["CI_COMMIT_REF_NAME"],
		Variables:        vars,
	}
	j.Timeout, _ = strconv.ParseInt(vars["CI_JOB_TIMEOUT"], 10, 64)
	if responseFile == "" {
		return j, j.fromEnv()
	}
	return j, j.fromResponse(responseFile)
}

func (j *Job) fromResponse(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("JOB_RESPONSE_FILE: %w", err)
	}
	var resp *response
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("JOB_RESPONSE_FILE %s: not a job response: %w", path, err)
	}
	if resp == nil {
		return fmt.Errorf("JOB_RESPONSE_FILE %s: not a job response: it holds null", path)
	}
	if resp.Image != nil {
		j.Image = *resp.Image
	}
	j.Services = resp.Services
	if resp.RunnerInfo.Timeout > 0 {
		j.Timeout = resp.RunnerInfo.Timeout
	}
	for _, v := range resp.Variables {
		if v.Masked && v.Value != "" {
			j.Masked = append(j.Masked, v.Value)
			j.MaskedNames = append(j.MaskedNames, v.Key)
		}
	}
	slices.Sort(j.MaskedNames)
	j.MaskedNames = slices.Compact(j.MaskedNames)
	// Longest first: a secret that contains another is masked whole.
	slices.SortStableFunc(j.Masked, func(a, b string) int { return len(b) - len(a) })
	return nil
}

// fromEnv is the fallback for runners that do not pass JOB_RESPONSE_FILE:
// CI_JOB_IMAGE and CI_JOB_SERVICES carry less (no service variables, only
// the first alias) but enough to build the pod.
func (j *Job) fromEnv() error {
	j.Image.Name = j.Variables["CI_JOB_IMAGE"]
	raw := j.Variables["CI_JOB_SERVICES"]
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), &j.Services); err != nil {
		return fmt.Errorf("CUSTOM_ENV_CI_JOB_SERVICES: not a JSON list of services: %w", err)
	}
	return nil
}

// Expand replaces $NAME and ${NAME} in s with the job's variables (an
// unknown one with nothing), as GitLab Runner expands pod labels,
// annotations and claim names.
func (j *Job) Expand(s string) string {
	return os.Expand(s, func(name string) string { return j.Variables[name] })
}

// MaskedIn returns the names of the masked variables whose values s
// holds, sorted; "a masked variable" stands for a value whose name is
// unknown.
func (j *Job) MaskedIn(s string) []string {
	var names []string
	named := map[string]bool{}
	for _, name := range j.MaskedNames {
		if v := j.Variables[name]; v != "" {
			named[v] = true
			if strings.Contains(s, v) {
				names = append(names, name)
			}
		}
	}
	for _, v := range j.Masked {
		if !named[v] && strings.Contains(s, v) {
			return append(names, "a masked variable")
		}
	}
	return names
}

// Scrub replaces every masked value in s with [MASKED], in every form it
// takes in k8sdrv's output (see Scrubber).
func (j *Job) Scrub(s string) string {
	if len(j.Masked) == 0 {
		return s
	}
	return j.Scrubber().Replace(s)
}

// Scrubber returns the replacer that hides the job's masked values. Error
// messages quote values (%q, %+q, sometimes an already quoted message
// again) and API servers echo JSON: each escapes quotes and backslashes,
// so a value holding them would slip past a search for the raw value.
func (j *Job) Scrubber() *strings.Replacer {
	var forms []string
	for _, secret := range j.Masked {
		if secret == "" {
			continue // would match everywhere
		}
		quoted := inner(strconv.Quote(secret))
		forms = append(forms, secret, quoted, inner(strconv.QuoteToASCII(secret)),
			inner(strconv.Quote(quoted)), jsonEscaped(secret))
	}
	// Longest first: strings.Replacer tries its pairs in order, so a
	// secret that contains another is masked whole.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, "[MASKED]")
	}
	return strings.NewReplacer(pairs...)
}

// inner drops a quoted string's outer quotes.
func inner(quoted string) string { return quoted[1 : len(quoted)-1] }

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return s // not reached: a string always marshals
	}
	return inner(string(b))
}

// Identity tells one job's calls from another's: gitlab-runner passes the
// same values to every call of a job, and they are in its pods' labels.
type Identity struct {
	JobID            string `json:"job_id"`
	ProjectID        string `json:"project_id,omitempty"`
	RunnerShortToken string `json:"runner,omitempty"`
	ConcurrentID     string `json:"concurrent_id,omitempty"`
}

// IdentityFrom reads the job's identity, and nothing else, from environ
// (os.Environ() form): run needs no more of the job to check that a
// state file is its own.
func IdentityFrom(environ []string) Identity {
	var id Identity
	fields := map[string]*string{
		EnvPrefix + "CI_JOB_ID":             &id.JobID,
		EnvPrefix + "CI_PROJECT_ID":         &id.ProjectID,
		EnvPrefix + "CI_RUNNER_SHORT_TOKEN": &id.RunnerShortToken,
		EnvPrefix + "CI_CONCURRENT_ID":      &id.ConcurrentID,
	}
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok && fields[name] != nil {
			*fields[name] = value
		}
	}
	return id
}

func (id Identity) String() string {
	if id.JobID == "" {
		return "a job without CI_JOB_ID"
	}
	return fmt.Sprintf("job %s (project %s, runner %s, concurrent id %s)", id.JobID, id.ProjectID, id.RunnerShortToken, id.ConcurrentID)
}
