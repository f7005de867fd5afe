package kubeapi

import (
	"errors"
	"testing"

	"gotest.tools/v3/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestFailedKeepsTheReason(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		err            error
		verb, ns, name string
		want           string
	}{
		{apierrors.NewConflict(pods, "p", errors.New("uid differs")), "delete", "ci", "p",
			`delete pod ci/p: Conflict: Operation cannot be fulfilled on pods "p": uid differs`},
		{apierrors.NewTooManyRequests("slow down", 2), "create", "ci", "",
			"create pod in namespace ci: TooManyRequests: slow down (hint: the API server is throttling k8sdrv's requests)"},
		{apierrors.NewNotFound(pods, "p"), "get", "ci", "p", `get pod ci/p: NotFound: pods "p" not found`},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), "watch", "ci", "p",
			"watch pod ci/p: dial tcp 127.0.0.1:1: connect: connection refused"},
	} {
		err := Failed(tc.verb, "pod", tc.ns, tc.name, tc.err)
		assert.Error(t, err, tc.want)
		assert.Assert(t, errors.Is(err, tc.err), "the client's error stays inspectable")
	}
	assert.Error(t, Failed("exec in", "container build of pod", "ci", "p", apierrors.NewForbidden(pods, "p", errors.New(""))),
		`exec in container build of pod ci/p: Forbidden: pods "p" is forbidden:  (hint: k8sdrv's account needs create and get on pods/exec in namespace ci; see examples/rbac.yaml)`)
	assert.NilError(t, Failed("get", "pod", "ci", "p", nil))
	assert.Assert(t, apierrors.IsForbidden(Failed("list", "pods", "ci", "", apierrors.NewForbidden(pods, "", errors.New("x")))))
}
