// Package e2e drives the built k8sdrv binary exactly as gitlab-runner does
// (config, prepare, run per stage, cleanup; the runner's environment, TMPDIR
// and bash stage scripts) against a real kube-apiserver: the local KWOK
// cluster from hack/cluster, or any cluster named by K8SDRV_E2E_KUBECONFIG.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	binary     string // the k8sdrv binary under test
	kubeconfig string
	kube       kubernetes.Interface
	restConfig *rest.Config
	jobSeq     atomic.Int64
	// kwok is true on the local KWOK cluster, where every "container" is
	// the host itself (tests may look at the host's processes).
	kwok bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() || os.Getenv("K8SDRV_E2E_SKIP") != "" {
		return m.Run()
	}
	var err error
	if binary, err = findBinary(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	kwok = os.Getenv("K8SDRV_E2E_KUBECONFIG") == ""
	if kubeconfig, err = clusterUp(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if restConfig, kube, err = connect(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// connect returns the harness's own client of the cluster of a kubeconfig.
func connect(path string) (*rest.Config, kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	// Unthrottled, like k8sdrv: the benchmarks' floor must not wait on
	// client-go's default rate limiter.
	rc.QPS, rc.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(rc)
	return rc, client, err
}

// findBinary returns K8SDRV_BINARY or builds k8sdrv into a temporary file,
// with the tags that make build uses.
func findBinary() (string, error) {
	if b := os.Getenv("K8SDRV_BINARY"); b != "" {
		return b, nil
	}
	dir, err := os.MkdirTemp("", "k8sdrv-e2e-bin-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "k8sdrv")
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", out, "../cmd/k8sdrv")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build k8sdrv: %w", err)
	}
	return out, nil
}

// clusterUp returns K8SDRV_E2E_KUBECONFIG, or brings the local cluster up;
// env (NAME=value) is added to hack/cluster/up.sh's environment.
func clusterUp(env ...string) (string, error) {
	if k := os.Getenv("K8SDRV_E2E_KUBECONFIG"); k != "" && len(env) == 0 {
		return k, nil
	}
	cmd := exec.Command("../hack/cluster/up.sh")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/cluster/up.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	path, ok := strings.CutPrefix(last, "KUBECONFIG=")
	if !ok {
		return "", fmt.Errorf("hack/cluster/up.sh: last line is %q, want KUBECONFIG=<path>", last)
	}
	return path, nil
}

// clusterConfig is the part of a job's k8sdrv config that depends on the
// cluster. On KWOK every "container" is the host, so each job gets its own
// directories; a real cluster uses the defaults inside its containers, and
// K8SDRV_E2E_PULL_POLICY (e.g. "never" for images imported on the node).
func clusterConfig(root string) string {
	if kwok {
		return fmt.Sprintf("builds_dir = %q\ncache_dir = %q\ndriver_dir = %q\n",
			filepath.Join(root, "builds"), filepath.Join(root, "cache"), filepath.Join(root, "k8sdrv"))
	}
	if p := os.Getenv("K8SDRV_E2E_PULL_POLICY"); p != "" {
		return fmt.Sprintf("pull_policy = %q\n", p)
	}
	return ""
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// requireKWOK skips a test that depends on the local KWOK cluster's
// simulation (image names that fail to pull, service images that need not
// exist, host processes standing in for containers).
func requireKWOK(t testing.TB, why string) {
	t.Helper()
	if !kwok {
		t.Skip("needs the KWOK cluster: " + why)
	}
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() || kube == nil {
		t.Skip("e2e: needs the local cluster (not under -short)")
	}
}

// job is one CI job as gitlab-runner would drive it.
type job struct {
	t          testing.TB
	id         string
	root       string // per-job directory: builds, cache and driver dirs live here
	tmp        string // TMPDIR of the job
	configPath string
	kubeconfig string
	env        map[string]string
	seq        int
}

type jobOptions struct {
	image    string
	response map[string]any // job response JSON; image/services
	config   string         // extra TOML lines
	// pollTimeout is poll_timeout in seconds (default 60).
	pollTimeout int
	// helperImage replaces the helper image (default K8SDRV_E2E_HELPER_IMAGE).
	helperImage string
	// cleanupTimeout is cleanup_resources_timeout (default 30s).
	cleanupTimeout string
}

func newJob(t testing.TB, opts jobOptions) *job {
	t.Helper()
	skipShort(t)
	root := t.TempDir()
	id := strconv.FormatInt(time.Now().UnixNano()%1e9*100+jobSeq.Add(1), 10)
	j := &job{t: t, id: id, root: root, tmp: filepath.Join(root, "tmp"), kubeconfig: kubeconfig}
	assert.NilError(t, os.MkdirAll(j.tmp, 0o700))
	j.configPath = filepath.Join(root, "k8sdrv.toml")
	pollTimeout := opts.pollTimeout
	if pollTimeout == 0 {
		pollTimeout = 60
	}
	image := opts.image
	if image == "" {
		image = envOr("K8SDRV_E2E_IMAGE", "debian:bookworm")
	}
	helperImage := opts.helperImage
	if helperImage == "" {
		helperImage = envOr("K8SDRV_E2E_HELPER_IMAGE", "gitlab-runner-helper:local")
	}
	cleanupTimeout := opts.cleanupTimeout
	if cleanupTimeout == "" {
		cleanupTimeout = "30s"
	}
	config := fmt.Sprintf(`image = %q
helper_image = %q
poll_timeout = %d
cleanup_resources_timeout = %q
reconnect_timeout = "60s"
%s%s
`, envOr("K8SDRV_E2E_IMAGE", "alpine:3"), helperImage, pollTimeout, cleanupTimeout, clusterConfig(root), opts.config)
	assert.NilError(t, os.WriteFile(j.configPath, []byte(config), 0o600))

	response := map[string]any{"id": id, "token": jobToken, "image": map[string]any{"name": image}}
	for k, v := range opts.response {
		response[k] = v
	}
	response["variables"] = withCanary(response["variables"])
	data, err := json.Marshal(response)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(j.tmp, "response.json"), data, 0o600))

	j.env = map[string]string{
		"CUSTOM_ENV_CI_JOB_ID":                          id,
		"CUSTOM_ENV_CI_JOB_NAME":                        t.Name(),
		"CUSTOM_ENV_CI_JOB_URL":                         "https://gitlab.example.com/group/project/-/jobs/" + id,
		"CUSTOM_ENV_CI_PROJECT_ID":                      "4242",
		"CUSTOM_ENV_CI_CONCURRENT_ID":                   "0",
		"CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID":           "0",
		"CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN":              "e2eTok12",
		"CUSTOM_ENV_CI_COMMIT_SHA":                      "0123456789abcdef0123456789abcdef01234567",
		"CUSTOM_ENV_CI_COMMIT_REF_NAME":                 "main",
		"CUSTOM_ENV_CI_JOB_IMAGE":                       image,
		"CUSTOM_ENV_CI_JOB_TIMEOUT":                     "3600",
		"CUSTOM_ENV_CI_JOB_STATUS":                      "running",
		"CUSTOM_ENV_FF_USE_POD_ACTIVE_DEADLINE_SECONDS": "true",
		"CUSTOM_ENV_" + canaryName:                      canaryValue,
	}
	t.Cleanup(j.assertNothingLeft)
	return j
}

// environ is the environment gitlab-runner gives every driver call.
func (j *job) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TMPDIR=" + j.tmp,
		"BUILD_FAILURE_EXIT_CODE=1",
		"SYSTEM_FAILURE_EXIT_CODE=2",
		"BUILD_EXIT_CODE_FILE=" + filepath.Join(j.tmp, "build-exit-code"),
		"JOB_RESPONSE_FILE=" + filepath.Join(j.tmp, "response.json"),
		"K8SDRV_CONFIG=" + j.configPath,
		"KUBECONFIG=" + j.kubeconfig,
	}
	for k, v := range j.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// result is one finished driver call. stderr is what k8sdrv printed
// there without the job log's colours (plain), for tests that read its
// lines as text; rawStderr is every byte.
type result struct {
	stdout, stderr string
	rawStderr      string
	code           int
	elapsed        time.Duration
}

// ansiColour matches the escape sequences that colour k8sdrv's lines in
// the job log.
var ansiColour = regexp.MustCompile("\x1b\\[[0-9;]*m")

// plain is a text without its colour escape sequences.
func plain(s string) string { return ansiColour.ReplaceAllString(s, "") }

// call runs k8sdrv with args, in TMPDIR, as gitlab-runner does.
func (j *job) call(args ...string) result {
	j.t.Helper()
	cmd := j.command(context.Background(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: plain(stderr.String()), rawStderr: stderr.String(), elapsed: time.Since(start)}
	// A stage's stdout is the job's own output (bash even echoes the
	// script's variable exports when a command is killed); gitlab-runner
	// masks it. What k8sdrv itself prints must hold no secret.
	own := r.stdout + r.stderr
	if len(args) > 0 && args[0] == "run" {
		own = r.stderr
	}
	assertNoSecret(j.t, "what k8sdrv "+strings.Join(args, " ")+" printed", own)
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else {
		assert.NilError(j.t, err)
	}
	return r
}

func (j *job) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = j.tmp
	cmd.Env = j.environ()
	return cmd
}

// stageScript writes a stage script shaped like gitlab-runner's and returns
// its path.
func (j *job) stageScript(stage, commands string) string {
	j.t.Helper()
	j.seq++
	path := filepath.Join(j.tmp, fmt.Sprintf("script%d-%s", j.seq, stage))
	assert.NilError(j.t, os.WriteFile(path, []byte(runnerScript(j.exports(), commands)), 0o700))
	return path
}

// buildsDir is builds_dir as the job's containers see it.
func (j *job) buildsDir() string {
	if kwok {
		return filepath.Join(j.root, "builds")
	}
	return "/builds"
}

// exports are the variables a stage script exports before its commands.
func (j *job) exports() map[string]string {
	out := map[string]string{"CI_PROJECT_DIR": path.Join(j.buildsDir(), "group", "project")}
	for k, v := range j.env {
		out[strings.TrimPrefix(k, "CUSTOM_ENV_")] = v
	}
	return out
}

// run runs one stage as gitlab-runner does: `k8sdrv run <script> <stage>`.
func (j *job) run(stage, commands string) result {
	j.t.Helper()
	return j.call("run", j.stageScript(stage, commands), stage)
}

func (j *job) buildExitCode() string {
	data, err := os.ReadFile(filepath.Join(j.tmp, "build-exit-code"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// pods lists the pods carrying this job's labels.
func (j *job) pods() []string {
	j.t.Helper()
	list, err := kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: "k8sdrv.io/job-id=" + j.id})
	assert.NilError(j.t, err)
	var names []string
	for _, p := range list.Items {
		data, err := json.Marshal(p)
		assert.NilError(j.t, err)
		assertNoSecret(j.t, "pod "+p.Name, string(data))
		if p.DeletionTimestamp == nil {
			names = append(names, p.Namespace+"/"+p.Name)
		}
	}
	return names
}

// assertNothingLeft checks, after each test, that no pod of the job remains.
func (j *job) assertNothingLeft() {
	if j.t.Failed() {
		j.call("cleanup")
	}
	assert.DeepEqual(j.t, j.pods(), []string(nil))
	j.assertNoSecretInTMPDIR()
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Every e2e job carries secret canaries: a job token and a masked variable
// whose value holds quotes and backslashes (the forms that slip past a
// naive scrubber). Neither may reach anything k8sdrv prints, any pod, or
// any file k8sdrv writes in TMPDIR.
const (
	jobToken    = "job-token-secret"
	canaryName  = "K8SDRV_E2E_CANARY"
	canaryValue = `can"ary\value-7Qx`
)

// withCanary adds the masked canary variable to a job response's variables.
func withCanary(variables any) []any {
	var out []any
	switch v := variables.(type) {
	case []any:
		out = append(out, v...)
	case []map[string]any:
		for _, m := range v {
			out = append(out, m)
		}
	}
	return append(out, map[string]any{"key": canaryName, "value": canaryValue, "masked": true})
}

// secrets are the canaries in every form k8sdrv must never print.
var secrets = []string{jobToken, canaryValue, strconv.Quote(canaryValue)}

func assertNoSecret(t testing.TB, where, text string) {
	t.Helper()
	for _, secret := range secrets {
		assert.Check(t, !strings.Contains(text, secret), "%s holds a secret (%q)", where, secret)
	}
}

// assertNoSecretInTMPDIR checks the files k8sdrv wrote in TMPDIR; the
// runner's own (the job response, the stage scripts) carry the job's
// variables by design.
func (j *job) assertNoSecretInTMPDIR() {
	entries, err := os.ReadDir(j.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "response.json" || strings.HasPrefix(e.Name(), "script") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(j.tmp, e.Name()))
		if err == nil {
			assertNoSecret(j.t, "TMPDIR/"+e.Name(), string(data))
		}
	}
}
