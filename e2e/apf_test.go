package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// throttleLine is what k8sdrv prints, once per call, while the API server
// answers it 429.
const throttleLine = "WARNING: the API server is throttling k8sdrv (429"

// tinyShare makes API Priority and Fairness give service account ns/name
// a priority level of its own with the smallest share there is (one
// nominal share of the server's concurrency, nothing borrowed, nothing
// queued: a request beyond its seats is refused at once with 429), and
// returns that level's name. Both objects go when the test ends.
func tinyShare(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	level := fmt.Sprintf("k8sdrv-e2e-%d-%s", os.Getpid(), ns)
	_, err := kube.FlowcontrolV1().PriorityLevelConfigurations().Create(ctx, &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: level},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: ptr.To[int32](1),
				LendablePercent:          ptr.To[int32](0),
				BorrowingLimitPercent:    ptr.To[int32](0),
				LimitResponse:            flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject},
			},
		},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	t.Cleanup(func() {
		_ = kube.FlowcontrolV1().PriorityLevelConfigurations().Delete(context.Background(), level, metav1.DeleteOptions{})
	})
	_, err = kube.FlowcontrolV1().FlowSchemas().Create(ctx, &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: level},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: level},
			MatchingPrecedence:         500, // before the built-in service-accounts schema (9000)
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{
					Kind:           flowcontrolv1.SubjectKindServiceAccount,
					ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: ns, Name: name},
				}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
					Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"},
					ClusterScope: true, Namespaces: []string{"*"},
				}},
			}},
		},
	}, metav1.CreateOptions{})
	assert.NilError(t, err)
	t.Cleanup(func() {
		_ = kube.FlowcontrolV1().FlowSchemas().Delete(context.Background(), level, metav1.DeleteOptions{})
	})
	// The API server's flow control takes the schema once its controller
	// has seen it and marked it not dangling.
	waitFor(t, 30*time.Second, func() bool {
		fs, err := kube.FlowcontrolV1().FlowSchemas().Get(ctx, level, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range fs.Status.Conditions {
			if c.Type == flowcontrolv1.FlowSchemaConditionDangling && c.Status == flowcontrolv1.ConditionFalse {
				return true
			}
		}
		return false
	})
	return level
}

// rejectedRequests is the API server's count of the requests that API
// Priority and Fairness refused at priority level `level`
// (apiserver_flowcontrol_rejected_requests_total, every reason).
func rejectedRequests(t *testing.T, level string) int {
	t.Helper()
	data, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	assert.NilError(t, err)
	total := 0
	lines := bufio.NewScanner(bytes.NewReader(data))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "apiserver_flowcontrol_rejected_requests_total{") || !strings.Contains(line, `priority_level="`+level+`"`) {
			continue
		}
		value, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		assert.NilError(t, err, line)
		total += int(value)
	}
	return total
}

// TestIntegrationThrottledJobs runs many jobs at once as a service account
// (examples/rbac.yaml's Role, a token from the TokenRequest API) to which
// API Priority and Fairness gives the smallest share: the API server
// refuses many of its requests with 429 (its metrics must count some),
// and yet every job passes, each call saying at most once that it waits.
// 30 jobs in make test, 200 under make soak. The waits count against
// poll_timeout and cleanup_resources_timeout, which the soak raises to
// 10 minutes.
func TestIntegrationThrottledJobs(t *testing.T) {
	skipShort(t)
	jobs := sized(30, 200)
	ns := testNamespace(t, "apf")
	token := serviceAccountToken(t, ns, "k8sdrv", k8sdrvRules)
	kubeconfigPath := tokenKubeconfig(t, token)
	level := tinyShare(t, ns, "k8sdrv")
	rejectedBefore := rejectedRequests(t, level)

	var calls, right atomic.Int64
	var mu sync.Mutex
	warned := map[string]int{} // call -> how many said they were throttled
	// check runs one call of k8sdrv and counts what it said.
	check := func(t *testing.T, r result, want int, call string) bool {
		t.Helper()
		calls.Add(1)
		n := strings.Count(r.stderr, throttleLine)
		if n > 0 {
			mu.Lock()
			warned[call]++
			mu.Unlock()
		}
		assert.Check(t, n <= 1, "%s said %d times that it is throttled:\n%s", call, n, r.stderr)
		return assert.Check(t, r.code == want, "%s: exit code %d, want %d:\n%s", call, r.code, want, r.stderr)
	}
	var slowest maxDuration // of the prepares
	start := make(chan struct{})
	var wg sync.WaitGroup
	t.Run("jobs", func(t *testing.T) {
		for i := range jobs {
			j := newJob(t, jobOptions{
				config: fmt.Sprintf("namespace = %q\n", ns),
				// Under make soak's load the API server asks for waits of
				// up to 32 s, and client-go waits each up to ten times.
				// A pod create is a wide request (a seat per ten pod
				// watches open in the cluster, and every running job
				// holds one), so on this level, which refuses rather
				// than queues, it waits until the others leave it room:
				// on a loaded 2-core CI machine one create waited out a
				// 60 s poll_timeout. 180 s is GitLab Runner's default.
				pollTimeout: sized(180, 600), cleanupTimeout: sized("3m", "10m"),
			})
			j.kubeconfig = kubeconfigPath
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start // every prepare at once
				began := time.Now()
				r := j.call("prepare")
				slowest.note(time.Since(began))
				if !check(t, r, 0, "prepare") {
					check(t, j.call("cleanup"), 0, "cleanup")
					return
				}
				r = j.run("build_script", fmt.Sprintf("echo job %d\n", i))
				check(t, r, 0, "run build_script")
				assert.Check(t, r.stdout == fmt.Sprintf("job %d\n", i), "job %d printed %q", i, r.stdout)
				check(t, j.run("after_script", "exit 3\n"), 1, "run after_script")
				assert.Check(t, j.buildExitCode() == "3")
				check(t, j.call("cleanup"), 0, "cleanup")
				right.Add(1)
			}()
		}
		close(start)
		wg.Wait()
	})
	rejected := rejectedRequests(t, level) - rejectedBefore
	t.Logf("%d jobs at once, %d ran to the end; the API server refused %d requests of k8sdrv's account with 429 "+
		"(apiserver_flowcontrol_rejected_requests_total); of %d calls of k8sdrv, these said once that they were throttled: %v; "+
		"the slowest prepare took %s",
		jobs, right.Load(), rejected, calls.Load(), warned, slowest.get().Round(time.Millisecond))
	assert.Assert(t, rejected > 0, "the API server throttled nothing: the test proves nothing")
	assert.Assert(t, len(warned) > 0, "%d requests were refused, and no call said it was throttled", rejected)
	assert.Equal(t, right.Load(), int64(jobs))
}

// maxDuration is the longest of the durations noted, safe for concurrent use.
type maxDuration struct {
	mu  sync.Mutex
	max time.Duration
}

func (m *maxDuration) note(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.max = max(m.max, d)
}

func (m *maxDuration) get() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max
}
