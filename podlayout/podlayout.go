// Package podlayout says where k8sdrv keeps its own files inside a job pod.
// The pod builder mounts the volume, the run stage names each stage's
// directory and the stage launcher finds the container's bin/ directory,
// all from here, so that they cannot disagree about a path.
package podlayout

import (
	"path"
	"strconv"
	"time"
)

// Layout is k8sdrv's volume in a job pod (the operator's driver_dir, or a
// directory named after the job under logs_base_dir or scripts_base_dir:
// config.Config.JobDriverDir). The build and the helper container each
// have their own, mounted at the same path, so that a build script cannot
// change what the helper's stages run; within it, the container's files
// live in a directory named after it.
type Layout struct {
	mountPath string
}

// New returns the layout of the volume mounted at mountPath.
func New(mountPath string) Layout {
	return Layout{mountPath: mountPath}
}

// MountPath is where the volume is mounted in the build and helper
// containers.
func (l Layout) MountPath() string {
	return l.mountPath
}

// Stage returns the paths of one run of stage in container. The name
// carries the time the run started: the runner calls a stage again when the
// job asks for retries (GET_SOURCES_ATTEMPTS and the like), and each call
// must start afresh, not follow the log of the one before.
func (l Layout) Stage(container, stage string, started time.Time) StageDirs {
	return StageDirs{
		containerDir: path.Join(l.mountPath, container),
		name:         stage + "-" + strconv.FormatInt(started.UnixNano(), 36),
	}
}

// StageDirs are the paths one stage run uses in its container.
type StageDirs struct {
	containerDir string
	name         string
}

// Attempt is the path of the run's attempt n (from 0). Its files (script,
// log, exit code) are this path with a suffix (.script, .log, .status),
// in the container's directory: a directory per attempt would cost every
// stage a mkdir. A stage whose start may not have reached the container is
// started again as a fresh attempt, never as one a late start could still
// claim.
func (s StageDirs) Attempt(n int) string {
	return path.Join(s.containerDir, s.name+"."+strconv.Itoa(n))
}

// Bin is the container's directory of commands that stages find first on
// their PATH (the gitlab-runner name for the helper image's binary). It is
// shared by all the container's stages, so it is set up once.
func (s StageDirs) Bin() string {
	return path.Join(s.containerDir, "bin")
}
