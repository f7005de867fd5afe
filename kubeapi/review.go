package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
)

// What `k8sdrv doctor` asks the API server about k8sdrv's own account.
// These types are outside core/v1, so they travel as JSON over the core
// client (and are not registered in its scheme): only doctor pays for
// them, and every authenticated user may make these calls (the default
// system:basic-user and system:public-info-viewer ClusterRoles).

// AccessReviews asks whether k8sdrv's account may do something;
// client-go's SelfSubjectAccessReviewInterface has the same method.
type AccessReviews interface {
	Create(ctx context.Context, review *authorizationv1.SelfSubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SelfSubjectAccessReview, error)
}

// SelfReviews asks who k8sdrv's account is; client-go's
// SelfSubjectReviewInterface has the same method.
type SelfReviews interface {
	Create(ctx context.Context, review *authenticationv1.SelfSubjectReview, opts metav1.CreateOptions) (*authenticationv1.SelfSubjectReview, error)
}

// AccessReviewClient implements AccessReviews over a core/v1 REST client.
type AccessReviewClient struct{ Client rest.Interface }

// Create submits a SelfSubjectAccessReview and returns it with its status.
func (a AccessReviewClient) Create(ctx context.Context, review *authorizationv1.SelfSubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SelfSubjectAccessReview, error) {
	review = review.DeepCopy()
	review.APIVersion, review.Kind = authorizationv1.SchemeGroupVersion.String(), "SelfSubjectAccessReview"
	out := &authorizationv1.SelfSubjectAccessReview{}
	return out, postJSON(ctx, a.Client, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, out)
}

// SelfReviewClient implements SelfReviews over a core/v1 REST client.
type SelfReviewClient struct{ Client rest.Interface }

// Create submits a SelfSubjectReview and returns it with the user's
// information.
func (s SelfReviewClient) Create(ctx context.Context, review *authenticationv1.SelfSubjectReview, _ metav1.CreateOptions) (*authenticationv1.SelfSubjectReview, error) {
	review = review.DeepCopy()
	review.APIVersion, review.Kind = authenticationv1.SchemeGroupVersion.String(), "SelfSubjectReview"
	out := &authenticationv1.SelfSubjectReview{}
	return out, postJSON(ctx, s.Client, "/apis/authentication.k8s.io/v1/selfsubjectreviews", review, out)
}

// ServerVersion reads the API server's /version.
func ServerVersion(ctx context.Context, client rest.Interface) (*version.Info, error) {
	raw, err := client.Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	info := &version.Info{}
	if err := json.Unmarshal(raw, info); err != nil {
		return nil, fmt.Errorf("decode /version: %w", err)
	}
	return info, nil
}

func postJSON(ctx context.Context, client rest.Interface, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	raw, err := client.Post().AbsPath(path).SetHeader("Content-Type", "application/json").
		Body(body).Do(ctx).Raw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
