package config

import (
	"path"
	"regexp"
	"strings"

	"github.com/k8sdrv/k8sdrv/job"
)

// driverDirPrefix starts the name of the directory under logs_base_dir or
// scripts_base_dir where k8sdrv's volume is mounted. GitLab Runner names
// its two directories there logs-<project>-<job> and scripts-<project>-<job>;
// k8sdrv's one volume holds both, so it goes by k8sdrv's name.
const driverDirPrefix = "k8sdrv-"

// baseDir is the directory under which k8sdrv's volume goes: the one
// logs_base_dir or scripts_base_dir names (Validate makes sure they agree
// when both are set), or "" when driver_dir is set, which wins.
func (c *Config) baseDir() string {
	switch {
	case c.DriverDir != "":
		return ""
	case c.ScriptsBaseDir != "":
		return c.ScriptsBaseDir
	}
	return c.LogsBaseDir
}

// JobDriverDir is where job j's pod mounts k8sdrv's volume: driver_dir,
// or, with logs_base_dir or scripts_base_dir, the directory
// k8sdrv-<project id>-<job id> under it, as GitLab Runner names its own
// there. Prepare records it, so that run finds it without the config.
func (c *Config) JobDriverDir(j *job.Job) string {
	base := c.baseDir()
	if base == "" {
		return c.DriverDir
	}
	name := driverDirPrefix + pathSafe(j.ProjectID) + "-" + pathSafe(j.ID)
	return path.Join(base, name[:min(len(name), maxDirName)])
}

// maxDirName keeps the directory's name well under the 255 bytes a Linux
// file name may have.
const maxDirName = 128

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// pathSafe keeps an id from the job's environment to characters that
// cannot leave the one directory name it is part of.
func pathSafe(id string) string {
	return unsafePathChars.ReplaceAllString(id, "_")
}

// validateDriverDir checks driver_dir, logs_base_dir and scripts_base_dir:
// absolute paths, and one directory for logs and scripts where they place
// k8sdrv's volume, since k8sdrv keeps a stage's script and its log side
// by side.
func (c *Config) validateDriverDir(add func(key, format string, args ...any)) {
	base := c.baseDir()
	if (c.DriverDir != "" || base == "") && !path.IsAbs(c.DriverDir) {
		add("driver_dir", "want an absolute path, got %q", c.DriverDir)
	}
	for key, dir := range map[string]string{"logs_base_dir": c.LogsBaseDir, "scripts_base_dir": c.ScriptsBaseDir} {
		if dir != "" && !path.IsAbs(dir) {
			add(key, "want an absolute path, got %q", dir)
		}
	}
	if base != "" && c.LogsBaseDir != "" && c.ScriptsBaseDir != "" && path.Clean(c.LogsBaseDir) != path.Clean(c.ScriptsBaseDir) {
		add("logs_base_dir", "%q is not scripts_base_dir %q: k8sdrv keeps a stage's log beside its script, in one volume", c.LogsBaseDir, c.ScriptsBaseDir)
	}
}

// driverDirClash says why an operator volume cannot be mounted at
// mountPath, where a job's pod may mount k8sdrv's volume, or "".
func (c *Config) driverDirClash(mountPath string) string {
	mountPath = path.Clean(mountPath)
	base := c.baseDir()
	switch {
	case base == "" && mountPath == path.Clean(c.DriverDir):
		return "is driver_dir, where k8sdrv keeps its own volume"
	case base != "" && path.Dir(mountPath) == path.Clean(base) && strings.HasPrefix(path.Base(mountPath), driverDirPrefix):
		return "may be where k8sdrv mounts its own volume: " + driverDirPrefix + "* under logs_base_dir or scripts_base_dir"
	}
	return ""
}
