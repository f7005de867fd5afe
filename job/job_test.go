package job

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// environ is what gitlab-runner passes to the driver, CUSTOM_ENV_* mixed
// with the runner's own variables.
var environ = []string{
	"PATH=/usr/bin:/bin",
	"BUILD_FAILURE_EXIT_CODE=1",
	"CUSTOM_ENV_CI_JOB_ID=4242",
	"CUSTOM_ENV_CI_JOB_URL=https://gitlab.example.com/group/app/-/jobs/4242",
	"CUSTOM_ENV_CI_JOB_NAME=test: [unit]",
	"CUSTOM_ENV_CI_PROJECT_ID=17",
	"CUSTOM_ENV_CI_CONCURRENT_ID=3",
	"CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=AbC123xy",
	"CUSTOM_ENV_CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567",
	"CUSTOM_ENV_CI_COMMIT_BEFORE_SHA=0000000000000000000000000000000000000000",
	"CUSTOM_ENV_CI_COMMIT_REF_NAME=main",
	"CUSTOM_ENV_DATABASE_URL=postgres://u:p@db/app?sslmode=disable",
	"CUSTOM_ENV_EMPTY=",
	"NOT_A_PAIR",
}

func writeResponse(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "response.json")
	assert.NilError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

const responseJSON = `{
  "id": 4242,
  "token": "job-token",
  "image": {"name": "golang:1.26", "entrypoint": ["/bin/sh", "-c"], "pull_policy": ["if-not-present"],
    "executor_opts": {"docker": {"user": "root"}, "kubernetes": {"user": "1000:${GID}"}}},
  "services": [
    {"name": "postgres:16", "alias": "db,primary-db", "variables": [
      {"key": "POSTGRES_PASSWORD", "value": "pg-password"},
      {"key": "POSTGRES_DB", "value": "app"}
    ]},
    {"name": "redis:7", "alias": null, "command": ["redis-server", "--port", "6380"], "ports": [{"number": 6380, "protocol": "http", "name": "redis"}], "executor_opts": {"kubernetes": {"user": 999}}}
  ],
  "variables": [
    {"key": "CI_JOB_ID", "value": "4242", "public": true},
    {"key": "API_KEY", "value": "api-secret", "masked": true},
    {"key": "OTHER_SECRET", "value": "other-secret", "masked": true, "file": true},
    {"key": "EMPTY_MASKED", "value": "", "masked": true},
    {"key": "PLAIN", "value": "visible", "masked": false}
  ]
}`

func TestLoadFromResponseFile(t *testing.T) {
	j, err := Load(environ, writeResponse(t, responseJSON))
	assert.NilError(t, err)

	want := &Job{
		ID:               "4242",
		URL:              "https://gitlab.example.com/group/app/-/jobs/4242",
		Name:             "test: [unit]",
		ProjectID:        "17",
		ConcurrentID:     "3",
		RunnerShortToken: "AbC123xy",
		CommitSHA:        "0123456789abcdef0123456789abcdef01234567",
		CommitBeforeSHA:  "0000000000000000000000000000000000000000",
		CommitRef:        "main",
		Image: Image{
			Name:            "golang:1.26",
			Entrypoint:      []string{"/bin/sh", "-c"},
			PullPolicy:      []string{"if-not-present"},
			ExecutorOptions: kubernetesUser("1000:${GID}"),
		},
		Services: []Service{
			{
				Image: Image{Name: "postgres:16", Alias: "db,primary-db"},
				Variables: []Variable{
					{Key: "POSTGRES_PASSWORD", Value: "pg-password"},
					{Key: "POSTGRES_DB", Value: "app"},
				},
			},
			{Image: Image{Name: "redis:7", Command: []string{"redis-server", "--port", "6380"}, Ports: []Port{{Number: 6380, Protocol: "http", Name: "redis"}}, ExecutorOptions: kubernetesUser("999")}},
		},
		Variables: map[string]string{
			"CI_JOB_ID":             "4242",
			"CI_JOB_URL":            "https://gitlab.example.com/group/app/-/jobs/4242",
			"CI_JOB_NAME":           "test: [unit]",
			"CI_PROJECT_ID":         "17",
			"CI_CONCURRENT_ID":      "3",
			"CI_RUNNER_SHORT_TOKEN": "AbC123xy",
			"CI_COMMIT_SHA":         "0123456789abcdef0123456789abcdef01234567",
			"CI_COMMIT_BEFORE_SHA":  "0000000000000000000000000000000000000000",
			"CI_COMMIT_REF_NAME":    "main",
			"DATABASE_URL":          "postgres://u:p@db/app?sslmode=disable",
			"EMPTY":                 "",
		},
		Masked:      []string{"other-secret", "api-secret"}, // longest first
		MaskedNames: []string{"API_KEY", "OTHER_SECRET"},
	}
	assert.DeepEqual(t, j, want)
}

func kubernetesUser(user string) ExecutorOptions {
	var o ExecutorOptions
	o.Kubernetes.User = StringOrNumber(user)
	return o
}

func TestLoadResponseWithoutImageOrServices(t *testing.T) {
	j, err := Load(environ, writeResponse(t, `{"image": null, "variables": []}`))
	assert.NilError(t, err)
	assert.DeepEqual(t, j.Image, Image{})
	assert.Check(t, is.Len(j.Services, 0))
	assert.Check(t, is.Len(j.Masked, 0))
	assert.Equal(t, j.ID, "4242")
}

func TestServiceAliases(t *testing.T) {
	tests := []struct {
		alias string
		want  []string
	}{
		{alias: "", want: nil},
		{alias: "db", want: []string{"db"}},
		{alias: "db,cache", want: []string{"db", "cache"}},
		{alias: "db, cache", want: []string{"db", "cache"}},
		{alias: "db cache", want: []string{"db", "cache"}},
		{alias: ",db,,cache,", want: []string{"db", "cache"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.alias), func(t *testing.T) {
			svc := Service{Image: Image{Name: "postgres:16", Alias: tc.alias}}
			assert.DeepEqual(t, svc.Aliases(), tc.want, cmpopts.EquateEmpty())
		})
	}
}

func TestScrub(t *testing.T) {
	j, err := Load(environ, writeResponse(t, responseJSON))
	assert.NilError(t, err)

	tests := []struct {
		in, want string
	}{
		{in: "nothing secret here", want: "nothing secret here"},
		{in: "key=api-secret", want: "key=[MASKED]"},
		{in: "api-secret and other-secret and api-secret", want: "[MASKED] and [MASKED] and [MASKED]"},
		{in: "visible stays", want: "visible stays"},
		{in: "", want: ""},
	}
	for _, tc := range tests {
		assert.Check(t, is.Equal(j.Scrub(tc.in), tc.want))
	}
}

func TestScrubWithoutMaskedVariablesKeepsText(t *testing.T) {
	j := &Job{}
	assert.Equal(t, j.Scrub("a b c"), "a b c")
}

func TestLoadFromEnvironmentWithoutResponseFile(t *testing.T) {
	env := append([]string{
		"CUSTOM_ENV_CI_JOB_IMAGE=golang:1.26",
		`CUSTOM_ENV_CI_JOB_SERVICES=[{"name":"postgres:16","alias":"db","entrypoint":null,"command":null},` +
			`{"name":"redis:7","alias":null,"entrypoint":["redis-server"],"command":["--port","6380"]}]`,
	}, environ...)

	j, err := Load(env, "")
	assert.NilError(t, err)
	assert.DeepEqual(t, j.Image, Image{Name: "golang:1.26"})
	assert.DeepEqual(t, j.Services, []Service{
		{Image: Image{Name: "postgres:16", Alias: "db"}},
		{Image: Image{Name: "redis:7", Entrypoint: []string{"redis-server"}, Command: []string{"--port", "6380"}}},
	})
	assert.Check(t, is.Len(j.Masked, 0))
	assert.Equal(t, j.ProjectID, "17")
}

func TestLoadFromEnvironmentWithoutImageOrServices(t *testing.T) {
	j, err := Load(environ, "")
	assert.NilError(t, err)
	assert.DeepEqual(t, j.Image, Image{})
	assert.Check(t, is.Len(j.Services, 0))
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		environ []string
		file    func(t *testing.T) string
		want    []string
	}{
		{
			name: "missing response file",
			file: func(*testing.T) string { return filepath.Join(dir, "absent.json") },
			want: []string{"JOB_RESPONSE_FILE", "absent.json"},
		},
		{
			name: "response file that is a directory",
			file: func(*testing.T) string { return dir },
			want: []string{"JOB_RESPONSE_FILE"},
		},
		{
			name: "malformed response file",
			file: func(t *testing.T) string { return writeResponse(t, `{"image": {"name": "alpine"`) },
			want: []string{"JOB_RESPONSE_FILE", "response.json", "not a job response"},
		},
		{
			name: "response file with wrong types",
			file: func(t *testing.T) string { return writeResponse(t, `{"services": {"name": "redis"}}`) },
			want: []string{"JOB_RESPONSE_FILE", "not a job response"},
		},
		{
			name: "a kubernetes user that is neither a string nor a number",
			file: func(t *testing.T) string {
				return writeResponse(t, `{"image": {"name": "alpine", "executor_opts": {"kubernetes": {"user": [1000]}}}}`)
			},
			want: []string{"JOB_RESPONSE_FILE", "not a job response", "want a string or a number"},
		},
		{
			// Valid JSON, but no job: the job would run in the
			// operator's default image without a word.
			name: "response file holding null",
			file: func(t *testing.T) string { return writeResponse(t, " null\n") },
			want: []string{"JOB_RESPONSE_FILE", "not a job response: it holds null"},
		},
		{
			name:    "CI_JOB_SERVICES that is not JSON",
			environ: []string{"CUSTOM_ENV_CI_JOB_SERVICES=redis:7"},
			file:    func(*testing.T) string { return "" },
			want:    []string{"CUSTOM_ENV_CI_JOB_SERVICES", "not a JSON list of services"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.environ, tc.file(t))
			assert.Assert(t, err != nil)
			for _, want := range tc.want {
				assert.Check(t, is.Contains(err.Error(), want))
			}
		})
	}
}

// TestScrubMasksTheLongestSecretFirst: a secret containing another is
// masked whole, not left with its tail showing.
func TestScrubMasksTheLongestSecretFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "response.json")
	assert.NilError(t, os.WriteFile(path, []byte(`{"variables": [
		{"key": "SHORT", "value": "abc", "masked": true},
		{"key": "LONG", "value": "abcdef", "masked": true}]}`), 0o600))
	j, err := Load(nil, path)
	assert.NilError(t, err)
	assert.Equal(t, j.Scrub("x abcdef y abc"), "x [MASKED] y [MASKED]")
}

func TestActiveDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    int64 // 0: none
	}{
		{"timeout plus one second", []string{"CUSTOM_ENV_CI_JOB_TIMEOUT=3600"}, 3601},
		{"flag on", []string{"CUSTOM_ENV_CI_JOB_TIMEOUT=60", "CUSTOM_ENV_FF_USE_POD_ACTIVE_DEADLINE_SECONDS=true"}, 61},
		{"flag off", []string{"CUSTOM_ENV_CI_JOB_TIMEOUT=60", "CUSTOM_ENV_FF_USE_POD_ACTIVE_DEADLINE_SECONDS=false"}, 0},
		{"no timeout", nil, 0},
		// The API server accepts at most 4294967295; int64 overflow
		// would make the deadline negative.
		{"huge timeout", []string{"CUSTOM_ENV_CI_JOB_TIMEOUT=9223372036854775807"}, 4294967295},
		{"timeout at the limit", []string{"CUSTOM_ENV_CI_JOB_TIMEOUT=4294967294"}, 4294967295},
	} {
		j, err := Load(tc.environ, "")
		assert.NilError(t, err)
		got := j.ActiveDeadline()
		if tc.want == 0 {
			assert.Assert(t, got == nil, tc.name)
			continue
		}
		assert.Equal(t, *got, tc.want, tc.name)
	}
}

// TestScrubCatchesQuotedForms: error messages quote values (%q) and API
// servers echo JSON, both of which escape quotes and backslashes; a
// masked value is hidden in each of those forms too.
func TestScrubCatchesQuotedForms(t *testing.T) {
	const secret = `pä"ss\word`
	j := &Job{Masked: []string{secret}}
	for _, tc := range []struct{ name, in string }{
		{"raw", "token " + secret + " here"},
		{"%q", fmt.Sprintf("token %q here", secret)},
		{"%+q", fmt.Sprintf("token %+q here", secret)},
		{"%q of %q", fmt.Sprintf("%q", fmt.Sprintf("value=%q", secret))},
		{"json", `{"token":` + mustJSON(t, secret) + `}`},
	} {
		got := j.Scrub(tc.in)
		assert.Check(t, strings.Contains(got, "[MASKED]"), "%s: %s", tc.name, got)
		assert.Check(t, !strings.Contains(got, "ss\\"), "%s: %s", tc.name, got)
		assert.Check(t, !strings.Contains(got, "word"), "%s: %s", tc.name, got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	assert.NilError(t, err)
	return string(b)
}

// TestMaskedIn names the masked variables whose values a text holds, for
// refusals that must say which variable without printing its value.
func TestMaskedIn(t *testing.T) {
	j := &Job{
		Variables:   map[string]string{"TOKEN": "tok-12345678", "PLAIN": "visible"},
		Masked:      []string{"tok-12345678", "unnamed-secret"},
		MaskedNames: []string{"TOKEN"},
	}
	assert.DeepEqual(t, j.MaskedIn("nothing here, visible"), []string(nil))
	assert.DeepEqual(t, j.MaskedIn("x=tok-12345678"), []string{"TOKEN"})
	assert.DeepEqual(t, j.MaskedIn("unnamed-secret tok-12345678"), []string{"TOKEN", "a masked variable"})
	assert.Equal(t, j.Expand("${TOKEN}-$PLAIN-$UNSET"), "tok-12345678-visible-")
}

func TestIdentityFromReadsWhatLoadReads(t *testing.T) {
	environ := []string{"CUSTOM_ENV_CI_JOB_ID=42", "CUSTOM_ENV_CI_PROJECT_ID=7", "CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN=tok",
		"CUSTOM_ENV_CI_CONCURRENT_ID=3", "CI_JOB_ID=not-the-job", "CUSTOM_ENV_CI_JOB_NAME=test"}
	j, err := Load(environ, "")
	assert.NilError(t, err)
	id := IdentityFrom(environ)
	assert.Equal(t, id, Identity{JobID: j.ID, ProjectID: j.ProjectID, RunnerShortToken: j.RunnerShortToken, ConcurrentID: j.ConcurrentID})
	assert.Equal(t, id, Identity{JobID: "42", ProjectID: "7", RunnerShortToken: "tok", ConcurrentID: "3"})
	assert.Equal(t, id.String(), "job 42 (project 7, runner tok, concurrent id 3)")
}

func TestServiceReadinessPorts(t *testing.T) {
	tests := []struct {
		name    string
		svc     Service
		want    []int
		wantErr string
	}{
		{name: "none", svc: Service{Image: Image{Name: "redis:7"}}},
		{name: "declared ports, each once", svc: Service{Image: Image{Name: "web", Ports: []Port{{Number: 80, Protocol: "http"}, {Number: 443}, {Number: 80}}}}, want: []int{80, 443}},
		{
			name: "HEALTHCHECK_TCP_PORT wins over ports; the last one counts",
			svc: Service{
				Image:     Image{Name: "web", Ports: []Port{{Number: 80}}},
				Variables: []Variable{{Key: "HEALTHCHECK_TCP_PORT", Value: "8080"}, {Key: "HEALTHCHECK_TCP_PORT", Value: " 9090 "}},
			},
			want: []int{9090},
		},
		{name: "not a number", svc: Service{Variables: []Variable{{Key: "HEALTHCHECK_TCP_PORT", Value: "http"}}}, wantErr: `variable HEALTHCHECK_TCP_PORT: "http" is not a TCP port (1-65535)`},
		{name: "zero", svc: Service{Variables: []Variable{{Key: "HEALTHCHECK_TCP_PORT", Value: "0"}}}, wantErr: "is not a TCP port"},
		{name: "port out of range", svc: Service{Image: Image{Ports: []Port{{Number: 65536}}}}, wantErr: "ports: 65536 is not a TCP port (1-65535)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.svc.ReadinessPorts()
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}
