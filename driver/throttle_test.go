package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8sdrv/k8sdrv/config"
)

// throttlingAPI is an API server that answers each kind of request ("create
// pods", "watch pods", "list events", ...) 429 with the Retry-After values
// of its queue for that kind, one per request, before it serves it. It
// keeps one pod, whose containers run from its first watch on; a watch
// opened before the pod is created (prepare opens it while the create is
// on its way) waits for the create.
type throttlingAPI struct {
	mu      sync.Mutex
	queue   map[string][]string // kind -> Retry-After of the next 429s
	refused map[string]int      // kind -> 429s sent
	pod     *corev1.Pod
	created chan struct{} // closed by the first create
}

func newThrottlingAPI(queue map[string][]string) *throttlingAPI {
	return &throttlingAPI{queue: queue, refused: map[string]int{}, created: make(chan struct{})}
}

func (a *throttlingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := requestKind(r)
	if a.throttle(w, kind) {
		return
	}
	if kind == "watch pods" {
		select {
		case <-a.created:
		case <-r.Context().Done():
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch kind {
	case "create pods":
		pod := &corev1.Pod{}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, pod); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pod.Namespace, pod.UID, pod.ResourceVersion = "ci", "uid-1", "1"
		if a.pod == nil {
			close(a.created)
		}
		a.pod = pod
		writeJSON(w, pod)
	case "watch pods": // the pod, running
		pod := a.pod.DeepCopy()
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, running(c.Name))
		}
		writeJSON(w, metav1.WatchEvent{Type: "MODIFIED", Object: rawJSON(pod)})
	case "list events":
		writeJSON(w, &corev1.EventList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "EventList"}})
	case "get serviceaccounts":
		writeJSON(w, &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: "ci-sa"}})
	case "delete pods":
		writeJSON(w, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
	default:
		http.Error(w, "not served here: "+kind, http.StatusNotFound)
	}
}

// throttle answers 429 when the queue of kind holds a Retry-After.
func (a *throttlingAPI) throttle(w http.ResponseWriter, kind string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue[kind]
	if len(q) == 0 {
		return false
	}
	a.queue[kind], a.refused[kind] = q[1:], a.refused[kind]+1
	w.Header().Set("Retry-After", q[0])
	http.Error(w, "Too many requests, please try again later.", http.StatusTooManyRequests) // as API Priority and Fairness writes it
	return true
}

// requestKind is "verb resource" of an API request, as the API server's
// request metrics name it.
func requestKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // api v1 namespaces NS RESOURCE [NAME]
	resource, named := parts[4], len(parts) > 5
	switch {
	case r.URL.Query().Get("watch") == "true":
		return "watch " + resource
	case r.Method == http.MethodGet && named:
		return "get " + resource
	case r.Method == http.MethodGet:
		return "list " + resource
	case r.Method == http.MethodPost:
		return "create " + resource
	}
	return strings.ToLower(r.Method) + " " + resource
}

func writeJSON(w io.Writer, v any) {
	data, _ := json.Marshal(v)
	_, _ = w.Write(append(data, '\n'))
}

func rawJSON(pod *corev1.Pod) (raw runtime.RawExtension) {
	p := pod.DeepCopy()
	p.APIVersion, p.Kind = "v1", "Pod"
	raw.Raw, _ = json.Marshal(p)
	return raw
}

// repeat is n times s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// recordPauses makes pauseAPI record its pauses instead of waiting them,
// for the test; the function returns those so far.
func recordPauses(t *testing.T) func() []time.Duration {
	var mu sync.Mutex
	var pauses []time.Duration
	old := pauseAPI
	pauseAPI = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		pauses = append(pauses, d)
		mu.Unlock()
		return ctx.Err() == nil
	}
	t.Cleanup(func() { pauseAPI = old })
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(pauses)
	}
}

// TestThrottledRequestsAreWaitedOut: every request of prepare and cleanup
// (get service account, create pod, watch pod, list events, delete pod)
// answered 429 first. client-go tries each request up to 11 times, waiting
// each Retry-After; beyond that retryAPI and retryTransient wait at least
// the Retry-After of the last answer and try again, whatever retry_limit
// says. The job log says once that the API server throttles k8sdrv, with
// no warning per try.
func TestThrottledRequestsAreWaitedOut(t *testing.T) {
	pauses := recordPauses(t)

	api := newThrottlingAPI(map[string][]string{
		// The first answer asks for a second's wait (client-go waits it);
		// the others for none, so that the test does not wait.
		"get serviceaccounts": append([]string{"1"}, repeat("0", 12)...),
		// 11 answers: client-go gives up, retryAPI waits 5 s and tries again.
		"create pods": append(repeat("0", 10), "5"),
		"watch pods":  repeat("0", 3),
		"list events": repeat("0", 3),
		// 11, twice over: retryTransient waits 2 s twice.
		"delete pods": append(append(repeat("0", 10), "2"), append(repeat("0", 10), "2")...),
	})
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)

	d := newTestDriver(t)
	d.cfg.Namespace, d.cfg.ServiceAccount, d.cfg.ResourceAvailabilityCheckMaxAttempts = "ci", "ci-sa", 1
	d.cfg.RetryLimit = 1 // throttling is not counted against it
	d.Connect = func(cfg *config.Config) (Cluster, error) {
		return Connect(&config.Config{Host: server.URL}, "test", d.throttled)
	}
	assert.NilError(t, d.prepare(context.Background()))
	assert.NilError(t, d.cleanup())

	for kind, left := range api.queue {
		assert.Check(t, is.Len(left, 0), "%s: 429s not asked for", kind)
	}
	assert.DeepEqual(t, api.refused, map[string]int{
		"get serviceaccounts": 13, "create pods": 11, "watch pods": 3, "list events": 3, "delete pods": 22,
	})
	log := d.stderr.String()
	assert.Equal(t, strings.Count(log, "throttling"), 1, log)
	assert.Check(t, is.Contains(log, "WARNING: the API server is throttling k8sdrv (429, retry after 1s): waiting\n"))
	assert.Check(t, !strings.Contains(log, "trying again"), log)
	assert.Check(t, is.Contains(pauses(), 5*time.Second), "retryAPI's pauses: %v", pauses())
	assert.Check(t, is.Contains(pauses(), 2*time.Second), "retryTransient's pauses: %v", pauses())
}

// TestThrottledUntilTheDeadline: a create throttled until poll_timeout
// ends (client-go still waiting a Retry-After) fails saying that the API
// server was throttling k8sdrv, not that it did not answer.
func TestThrottledUntilTheDeadline(t *testing.T) {
	api := newThrottlingAPI(map[string][]string{"create pods": repeat("1", 100)})
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	d := newTestDriver(t)
	d.cfg.Namespace, d.cfg.PollTimeout = "ci", 2
	d.Connect = func(cfg *config.Config) (Cluster, error) {
		return Connect(&config.Config{Host: server.URL}, "test", d.throttled)
	}
	err := d.prepare(context.Background())
	assert.ErrorContains(t, err, "create pod in namespace ci: context deadline exceeded, while the API server was throttling k8sdrv")
	assert.Check(t, !strings.Contains(err.Error(), "no answer"), err)
}

// TestThrottledUntilTheRateLimitersRefusal: client-go's rate limiter may
// refuse its wait a moment before the deadline fires; retryAPI reports
// that as the deadline it is, with the throttling that led there.
func TestThrottledUntilTheRateLimitersRefusal(t *testing.T) {
	d := newTestDriver(t)
	d.throttledSeen.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	limiter := rate.NewLimiter(rate.Every(time.Hour), 1)
	limiter.Allow() // the next token is an hour away
	err := d.retryAPI(ctx, d.cfg.Retry, "create pod ci/p", func(ctx context.Context) error {
		if err := limiter.Wait(ctx); err != nil {
			return fmt.Errorf("client rate limiter Wait returned an error: %w", err)
		}
		return nil
	})
	assert.Error(t, err, "context deadline exceeded, while the API server was throttling k8sdrv")
}
