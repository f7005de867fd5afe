// Package scripts holds the POSIX sh programs that k8sdrv runs inside job
// containers. They are plain files, checked with shellcheck, embedded here.
package scripts

import _ "embed"

// Stage starts a CI stage detached in a container and streams its log; see
// the header of stage.sh for its modes and protocol.
//
//go:embed stage.sh
var Stage string

// Keepalive is the command of the build and helper containers.
//
//go:embed keepalive.sh
var Keepalive string
