// Package cron is a stand-in for fleeting's taskscaler cron schedules, which
// gitlab-runner's Kubernetes executor reads only for the periods of its
// idle-pod autoscaler ([runners.kubernetes.autoscaler] policies). Without
// such a policy nothing calls it. This build knows no cron syntax: a period
// is refused with an error naming the stand-in.
package cron

import (
	"errors"
	"time"
)

// ErrStandIn is returned for every period.
var ErrStandIn = errors.New("cron: autoscaler periods are not available in this gitlab-runner build (taskscaler stand-in)")

// Schedule is a parsed period.
type Schedule struct{}

// Parse always fails.
func Parse(period, timezone string) (Schedule, error) { return Schedule{}, ErrStandIn }

// Contains reports whether t falls in the schedule: never.
func (Schedule) Contains(time.Time) bool { return false }
