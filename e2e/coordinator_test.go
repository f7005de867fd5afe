package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// coordinator is a fake GitLab: just the part of the runner API that
// `gitlab-runner run-single` uses for one job (request it, stream its trace,
// report its state), as in gitlab-runner's network package.
type coordinator struct {
	t     testing.TB
	srv   *httptest.Server
	token string // the runner's token; requests with another are refused

	mu            sync.Mutex
	pending       []map[string]any  // jobs still to hand out, in order
	jobs          map[int64]*jobLog // by job id, once handed out
	cancelMarkers map[int64]string  // see cancelWhen
}

// jobLog is what the coordinator saw of one job.
type jobLog struct {
	token    string
	trace    []byte
	states   []string // every state PUT, in order ("running", then the final one)
	cancelOn string   // once the trace contains this, GitLab asks to cancel the job
	final    jobUpdate
	finished chan struct{} // closed when a final state arrives
}

// jobUpdate is the body of PUT /api/v4/jobs/:id.
type jobUpdate struct {
	Token         string `json:"token"`
	State         string `json:"state"`
	FailureReason string `json:"failure_reason"`
	ExitCode      int    `json:"exit_code"`
	Output        struct {
		Checksum string `json:"checksum"`
		Bytesize int    `json:"bytesize"`
	} `json:"output"`
}

func newCoordinator(t testing.TB, runnerToken string) *coordinator {
	return newCoordinatorOn(t, runnerToken, "")
}

// newCoordinatorOn is newCoordinator listening on addr (host:port) instead
// of a loopback port: for a runner that runs in a pod.
func newCoordinatorOn(t testing.TB, runnerToken, addr string) *coordinator {
	c := &coordinator{t: t, token: runnerToken, jobs: map[int64]*jobLog{}, cancelMarkers: map[int64]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/jobs/request", c.requestJob)
	mux.HandleFunc("PATCH /api/v4/jobs/{id}/trace", c.patchTrace)
	mux.HandleFunc("PUT /api/v4/jobs/{id}", c.updateJob)
	mux.HandleFunc("POST /api/v4/runners/verify", c.verifyRunner)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Logf("coordinator: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	c.srv = httptest.NewUnstartedServer(mux)
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("fake GitLab: %v", err)
		}
		c.srv.Listener.Close()
		c.srv.Listener = l
	}
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the GitLab instance URL to give the runner.
func (c *coordinator) URL() string { return c.srv.URL }

// addJob queues a job; job must have "id" (int64) and "token".
func (c *coordinator) addJob(job map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, job)
}

// cancelWhen makes GitLab cancel job id (as a user pressing "Cancel" would)
// once its trace contains marker: every later answer says "canceling".
func (c *coordinator) cancelWhen(id int64, marker string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelMarkers[id] = marker
}

// job returns what the coordinator saw of job id (nil if never handed out).
func (c *coordinator) job(id int64) *jobLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[id]
}

// snapshot returns a copy of the job's trace, states and final update.
func (c *coordinator) snapshot(id int64) (trace string, states []string, final jobUpdate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.jobs[id]
	if j == nil {
		return "", nil, jobUpdate{}
	}
	return string(j.trace), append([]string(nil), j.states...), j.final
}

func (c *coordinator) verifyRunner(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.Token != c.token {
		http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "token": c.token})
}

func (c *coordinator) requestJob(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.Token != c.token {
		http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	job := c.pending[0]
	c.pending = c.pending[1:]
	id := job["id"].(int64)
	c.jobs[id] = &jobLog{token: job["token"].(string), cancelOn: c.cancelMarkers[id], finished: make(chan struct{})}
	writeJSON(w, http.StatusCreated, job)
}

// lookup finds the job of a request and checks its JOB-TOKEN header.
func (c *coordinator) lookup(w http.ResponseWriter, r *http.Request, token string) *jobLog {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	j := c.jobs[id]
	if err != nil || j == nil {
		http.NotFound(w, r)
		return nil
	}
	if token != j.token {
		http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
		return nil
	}
	return j
}

// patchTrace appends a chunk at its Content-Range offset. A chunk that does
// not start where the trace ends gets 416 with the trace's Range, as GitLab
// answers, and the runner resends from there.
func (c *coordinator) patchTrace(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.lookup(w, r, r.Header.Get("JOB-TOKEN"))
	if j == nil {
		return
	}
	var start, end int
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &start, &end); err != nil || end-start+1 != len(data) {
		http.Error(w, "bad Content-Range "+r.Header.Get("Content-Range"), http.StatusBadRequest)
		return
	}
	w.Header().Set("Job-Status", j.remoteState())
	w.Header().Set("X-GitLab-Trace-Update-Interval", "1")
	if start != len(j.trace) {
		w.Header().Set("Range", fmt.Sprintf("0-%d", len(j.trace)))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	j.trace = append(j.trace, data...)
	w.Header().Set("Job-Status", j.remoteState())
	w.Header().Set("Range", fmt.Sprintf("0-%d", len(j.trace)))
	w.WriteHeader(http.StatusAccepted)
}

// updateJob records a state. "running" is the runner saying it started;
// "success" and "failed" end the job.
func (c *coordinator) updateJob(w http.ResponseWriter, r *http.Request) {
	var u jobUpdate
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.lookup(w, r, u.Token)
	if j == nil {
		return
	}
	j.states = append(j.states, u.State)
	w.Header().Set("Job-Status", j.remoteState())
	if u.State == "success" || u.State == "failed" {
		if j.final.State == "" {
			j.final = u
			close(j.finished)
		}
		w.Header().Set("Job-Status", u.State)
	}
	w.Header().Set("X-GitLab-Trace-Update-Interval", "1")
	w.WriteHeader(http.StatusOK)
}

// remoteState is the job's state on the GitLab side: "running", or
// "canceling" once the job is to be cancelled.
func (j *jobLog) remoteState() string {
	if j.cancelOn != "" && bytes.Contains(j.trace, []byte(j.cancelOn)) {
		return "canceling"
	}
	return "running"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ciJob is a CI job as GitLab hands it to a runner.
type ciJob struct {
	id          int64
	token       string
	image       string
	script      []string
	afterScript []string
	variables   []map[string]any // added after the predefined ones
	services    []string         // service images
}

// payload is the job's JSON, shaped like GitLab's response to
// POST /api/v4/jobs/request (spec.Job in gitlab-runner).
func (j ciJob) payload(serverURL string) map[string]any {
	id := strconv.FormatInt(j.id, 10)
	v := func(key, value string, public, masked bool) map[string]any {
		return map[string]any{"key": key, "value": value, "public": public, "masked": masked}
	}
	variables := []map[string]any{
		v("CI", "true", true, false),
		v("GITLAB_CI", "true", true, false),
		v("CI_SERVER_URL", serverURL, true, false),
		v("CI_JOB_ID", id, true, false),
		v("CI_JOB_NAME", "e2e", true, false),
		v("CI_JOB_STAGE", "test", true, false),
		v("CI_JOB_URL", serverURL+"/group/project/-/jobs/"+id, true, false),
		v("CI_JOB_TOKEN", j.token, false, true),
		v("CI_PIPELINE_ID", "77", true, false),
		v("CI_PROJECT_ID", "4242", true, false),
		v("CI_PROJECT_NAME", "project", true, false),
		v("CI_PROJECT_PATH", "group/project", true, false),
		v("CI_PROJECT_NAMESPACE", "group", true, false),
		v("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567", true, false),
		v("CI_COMMIT_BEFORE_SHA", "0000000000000000000000000000000000000000", true, false),
		v("CI_COMMIT_REF_NAME", "main", true, false),
		// No clone: the stages still run, only git is skipped.
		v("GIT_STRATEGY", "none", true, false),
	}
	variables = append(variables, j.variables...)
	step := func(name string, script []string, when string, allowFailure bool) map[string]any {
		return map[string]any{"name": name, "script": script, "timeout": 3600, "when": when, "allow_failure": allowFailure}
	}
	steps := []map[string]any{step("script", j.script, "on_success", false)}
	services := []any{}
	for _, name := range j.services {
		services = append(services, map[string]any{"name": name})
	}
	if len(j.afterScript) > 0 {
		steps = append(steps, step("after_script", j.afterScript, "always", true))
	}
	return map[string]any{
		"id":              j.id,
		"token":           j.token,
		"allow_git_fetch": true,
		"job_info":        map[string]any{"name": "e2e", "stage": "test", "project_id": 4242, "project_name": "project", "pipeline_id": 77},
		"git_info": map[string]any{
			"repo_url":   strings.Replace(serverURL, "://", "://gitlab-ci-token:"+j.token+"@", 1) + "/group/project.git",
			"ref":        "main",
			"sha":        "0123456789abcdef0123456789abcdef01234567",
			"before_sha": "0000000000000000000000000000000000000000",
			"ref_type":   "branch",
			"refspecs":   []string{"+refs/heads/main:refs/remotes/origin/main"},
			"depth":      20,
		},
		"runner_info":  map[string]any{"timeout": 3600},
		"variables":    variables,
		"steps":        steps,
		"image":        map[string]any{"name": j.image},
		"services":     services,
		"artifacts":    []any{},
		"cache":        []any{},
		"credentials":  []any{},
		"dependencies": []any{},
		"features": map[string]any{
			"trace_sections":  true,
			"failure_reasons": []string{"script_failure", "runner_system_failure", "job_execution_timeout", "job_canceled", "unknown_failure"},
		},
	}
}
