// Package job reads what gitlab-runner tells k8sdrv about the current CI job:
// the CUSTOM_ENV_* variables and the job response JSON at JOB_RESPONSE_FILE.
// Everything here is job-controlled input: it selects images and services and
// fills labels and annotations, but never changes an operator setting.
package job

import (
	"encoding/json"
	"fmt"
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
	// Timeout is the job's timeout in seconds (0: unknown).
	Timeout int64
}

// ActiveDeadline returns the pod's activeDeadlineSeconds: the job timeout
// plus one second, unless the job turns FF_USE_POD_ACTIVE_DEADLINE_SECONDS
// off (it is on by default, as in GitLab Runner) or has no timeout.
func (j *Job) ActiveDeadline() *int64 {
	if j.Timeout <= 0 {
		return nil
	}
	if on, err := strconv.ParseBool(j.Variables["FF_USE_POD_ACTIVE_DEADLINE_SECONDS"]); err == nil && !on {
		return nil
	}
	d := j.Timeout + 1
	return &d
}

// Image is the job's `image:` as the job response carries it.
type Image struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias"`
	Entrypoint []string `json:"entrypoint"`
	Command    []string `json:"command"`
	PullPolicy []string `json:"pull_policy"`
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
	var resp response
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("JOB_RESPONSE_FILE %s: not a job response: %w", path, err)
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
		}
	}
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

// Scrub replaces every masked value in s with [MASKED].
func (j *Job) Scrub(s string) string {
	for _, secret := range j.Masked {
		s = strings.ReplaceAll(s, secret, "[MASKED]")
	}
	return s
}
