// Package snowplow is a stand-in for labkit's Snowplow event emitter; usage
// billing events cannot be sent with it.
package snowplow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"gitlab.com/gitlab-org/labkit/v2/events/snowplow/metrics"
)

var errStandIn = errors.New("snowplow: not available in this gitlab-runner build (labkit stand-in)")

// SendResult is the outcome of one batch.
type SendResult struct {
	EventCount int
	StatusCode int
	Err        error
}

// SendCallback receives batch outcomes.
type SendCallback func(successes []SendResult, failures []SendResult)

// EmitterOption configures an Emitter.
type EmitterOption func(*Emitter)

// WithCallback sets the batch callback.
func WithCallback(SendCallback) EmitterOption { return func(*Emitter) {} }

// WithTokenSource sets the token source.
func WithTokenSource(oauth2.TokenSource) EmitterOption { return func(*Emitter) {} }

// WithMetricsCollectorOptions configures the metrics collector.
func WithMetricsCollectorOptions(...metrics.CollectorOption) EmitterOption {
	return func(*Emitter) {}
}

// Emitter would send events.
type Emitter struct{}

// NewEmitter always fails.
func NewEmitter(string, ...EmitterOption) (*Emitter, error) { return nil, errStandIn }

// Collector returns the emitter's metrics.
func (*Emitter) Collector() prometheus.Collector { return nil }

// Tracker would track events.
type Tracker struct{}

// NewTracker always fails.
func NewTracker(string, *Emitter) (*Tracker, error) { return nil, errStandIn }

// BillingEventRequiredInput holds a billing event's required fields.
type BillingEventRequiredInput struct {
	Category, EventType, Realm, UnitOfMeasure string
	Quantity                                  any
}

// BillingEventOptionalInput holds a billing event's optional fields.
type BillingEventOptionalInput struct {
	Subject, DeploymentType, InstanceID, UniqueInstanceID   string
	Metadata                                                map[string]any
	ProjectID, NamespaceID, RootNamespaceID, OrganizationID any
}

// TrackBillingEventWithOptionalInput always fails.
func (*Tracker) TrackBillingEventWithOptionalInput(BillingEventRequiredInput, BillingEventOptionalInput) error {
	return errStandIn
}

// Stop does nothing.
func (*Tracker) Stop() {}
