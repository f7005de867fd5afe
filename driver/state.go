package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFile is the name, inside $TMPDIR, of the file in which prepare
// records the job's pod for run and cleanup.
const stateFile = "k8sdrv-state.json"

// State identifies the job's pod and its in-pod paths.
type State struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	UID       string `json:"uid"`
	DriverDir string `json:"driver_dir"`
}

// errNoState reports a run or cleanup without prepare's state file.
var errNoState = errors.New("no state file")

func statePath(dir string) string { return filepath.Join(dir, stateFile) }

// saveState writes the state atomically (temporary file, then rename) and
// readable only by its owner, so a concurrent reader never sees half a file.
func saveState(dir string, s *State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), statePath(dir)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %s: prepare has not created a pod for this job", errNoState, statePath(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil || s.Pod == "" {
		return nil, fmt.Errorf("state file %s is damaged; delete it and run cleanup", statePath(dir))
	}
	return &s, nil
}
