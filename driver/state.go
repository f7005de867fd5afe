package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k8sdrv/k8sdrv/job"
)

// stateFile is the name, inside $TMPDIR, of the file in which prepare
// records the job's pod for run and cleanup.
const stateFile = "k8sdrv-state.json"

// State identifies the job, its pod (the last one prepare created, which
// run uses) and its in-pod paths, and every pod prepare created for the
// job, one per pull attempt, so that cleanup deletes those whose delete
// failed during prepare too.
//
// A state written before k8sdrv recorded Job and Pods has only Namespace,
// Pod, UID and DriverDir: it is taken as this job's and its one pod as all
// of them, since nothing tells otherwise.
type State struct {
	Namespace string        `json:"namespace"`
	Pod       string        `json:"pod"`
	UID       string        `json:"uid"`
	DriverDir string        `json:"driver_dir"`
	Job       *job.Identity `json:"job,omitempty"`
	Pods      []PodRef      `json:"pods,omitempty"`
	// JobNamespace is the namespace prepare created for the job
	// (namespace_per_job), recorded before any pod: a state may name it
	// and no pod yet.
	JobNamespace *NamespaceRef `json:"job_namespace,omitempty"`
}

// NamespaceRef names the job's own namespace; the UID keeps cleanup from
// deleting a later namespace of the same name.
type NamespaceRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// PodRef names one pod; the UID keeps a delete from hitting a later pod of
// the same name.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// add records a newly created pod as the job's current one.
func (s *State) add(pod PodRef) {
	s.Namespace, s.Pod, s.UID = pod.Namespace, pod.Name, pod.UID
	s.Pods = append(s.Pods, pod)
}

// allPods returns every pod prepare created for the job.
func (s *State) allPods() []PodRef {
	if s.Pod == "" {
		return nil
	}
	if len(s.Pods) == 0 {
		return []PodRef{{Namespace: s.Namespace, Name: s.Pod, UID: s.UID}}
	}
	return s.Pods
}

// belongsTo reports whether the state is job id's own. A stale state left
// by another job in a reused TMPDIR names that job's pod.
func (s *State) belongsTo(id job.Identity) bool {
	return s.Job == nil || *s.Job == id
}

// foreignStateError reports a state that belongs to another job.
func foreignStateError(dir string, s *State, id job.Identity) error {
	return fmt.Errorf("state file %s is stale: it belongs to %s, and this is %s; k8sdrv leaves its pod %s/%s alone", statePath(dir), s.Job, id, s.Namespace, s.Pod)
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
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("state file %s is damaged: %w", statePath(dir), err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("state file %s is damaged: %w", statePath(dir), err)
	}
	return &s, nil
}

// check refuses a state naming what prepare never wrote: a pod or
// namespace the API server would not have named so, or a relative
// driver_dir. A state without a pod must name the job's namespace. run would
// exec, and cleanup delete, by these names.
func (s *State) check() error {
	if s.Pod == "" && s.JobNamespace == nil {
		return errors.New("it names no pod")
	}
	if s.DriverDir != "" && !path.IsAbs(s.DriverDir) {
		return fmt.Errorf("driver_dir %q is not an absolute path", s.DriverDir)
	}
	if s.JobNamespace != nil {
		if msgs := validation.IsDNS1123Label(s.JobNamespace.Name); len(msgs) > 0 {
			return fmt.Errorf("job_namespace %q is not a valid namespace", s.JobNamespace.Name)
		}
	}
	if s.Pod == "" {
		return nil
	}
	if err := checkPodRef(PodRef{Namespace: s.Namespace, Name: s.Pod}); err != nil {
		return err
	}
	for i, p := range s.Pods {
		if err := checkPodRef(p); err != nil {
			return fmt.Errorf("pods[%d]: %w", i, err)
		}
	}
	return nil
}

func checkPodRef(p PodRef) error {
	if msgs := validation.IsDNS1123Label(p.Namespace); len(msgs) > 0 {
		return fmt.Errorf("namespace %q is not a valid namespace", p.Namespace)
	}
	if msgs := validation.IsDNS1123Subdomain(p.Name); len(msgs) > 0 {
		return fmt.Errorf("pod %q is not a valid pod name", p.Name)
	}
	return nil
}

// checkStateDir makes sure that prepare can write its state in dir before
// it creates anything: a pod whose state cannot be written would be
// created only to be deleted again.
func checkStateDir(dir string) error {
	f, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return fmt.Errorf("TMPDIR %s: prepare keeps the job's state there: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
