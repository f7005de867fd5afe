// Package metrics is a stand-in for labkit's Snowplow collector options.
package metrics

// CollectorOption configures the collector.
type CollectorOption func()

// WithCollectorNamespace sets the metrics namespace.
func WithCollectorNamespace(string) CollectorOption { return func() {} }

// WithCollectorBatchDeliveryDurationBuckets sets histogram buckets.
func WithCollectorBatchDeliveryDurationBuckets([]float64) CollectorOption { return func() {} }
