package kubeapi

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Error is a failed API call as one line of the job log: what k8sdrv
// asked (verb and object), the Kubernetes reason, the server's message,
// and a hint where the operator can fix it:
//
//	create pod in namespace ci: Forbidden: pods is forbidden: User "x" cannot create ... (hint: ...)
//
// It wraps the client's error, so apierrors.IsForbidden and friends still
// see it.
type Error struct {
	Verb      string // create, get, list, watch, delete, exec
	Resource  string // pod, events, service account, secret
	Namespace string
	Name      string // empty for a call on the namespace (create with generateName, list)
	Err       error
}

// Failed returns err as an *Error naming the call, or nil when err is nil.
func Failed(verb, resource, namespace, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Verb: verb, Resource: resource, Namespace: namespace, Name: name, Err: err}
}

func (e *Error) Error() string {
	object := e.Resource
	switch {
	case e.Name != "":
		object += " " + e.Namespace + "/" + e.Name
	case e.Namespace != "":
		object += " in namespace " + e.Namespace
	}
	msg := e.Verb + " " + object + ": "
	if reason := Reason(e.Err); reason != "" {
		msg += reason + ": "
	}
	return msg + e.Err.Error() + e.hint()
}

func (e *Error) Unwrap() error { return e.Err }

// Reason is the Kubernetes reason of an API error (Forbidden, NotFound,
// Conflict, TooManyRequests...), or "" for an error that did not come
// from the API server (a refused connection, a timeout on the way).
func Reason(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return ""
	}
	if reason := status.Status().Reason; reason != metav1.StatusReasonUnknown {
		return string(reason)
	}
	return fmt.Sprintf("HTTP %d", status.Status().Code)
}

// hint says what an operator can do about the failure, where there is
// something to do.
func (e *Error) hint() string {
	switch {
	case apierrors.IsForbidden(e.Err) && strings.Contains(e.Err.Error(), "quota"):
		return " (hint: a ResourceQuota of the namespace refuses the pod: raise it, or quota_wait_timeout to wait longer for room)"
	case apierrors.IsForbidden(e.Err) && e.Verb == "exec in":
		// A refused WebSocket upgrade says only "forbidden:" (the API
		// server authorizes it as create as well as get), so name both.
		return fmt.Sprintf(" (hint: k8sdrv's account needs create and get on pods/exec in namespace %s; see examples/rbac.yaml)", e.Namespace)
	case apierrors.IsForbidden(e.Err):
		return " (hint: k8sdrv's account lacks this permission; see examples/rbac.yaml)"
	case apierrors.IsUnauthorized(e.Err):
		return " (hint: the credentials in the kubeconfig or k8sdrv config are not accepted)"
	case apierrors.IsNotFound(e.Err) && e.Name == "":
		return fmt.Sprintf(" (hint: does namespace %s exist?)", e.Namespace)
	case apierrors.IsTooManyRequests(e.Err):
		return " (hint: the API server is throttling k8sdrv's requests)"
	}
	return ""
}
