package config

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/k8sdrv/k8sdrv/job"
)

// checkJobInput refuses, as the job's own fault, what the job asks for
// that the API server or the container runtime would refuse later: an
// image name that is no image reference, a service without an image, an
// alias that is no host name, a service variable that is no environment
// variable name, a port to wait for that is no TCP port. Without it these failed at create or pull time, as
// system failures that the runner retries in vain.
func checkJobInput(j *job.Job) []error {
	var errs []error
	if j.Image.Name != "" {
		if err := CheckImageName(j.Image.Name); err != nil {
			errs = append(errs, jobErrorf("image %q: %v", j.Image.Name, err))
		}
	}
	for i, s := range j.Services {
		key := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			errs = append(errs, jobErrorf("%s: service without an image name", key))
		} else if err := CheckImageName(s.Name); err != nil {
			errs = append(errs, jobErrorf("%s: image %q: %v", key, s.Name, err))
		}
		for _, alias := range s.Aliases() {
			if msg := invalidHostName(alias); msg != "" {
				errs = append(errs, jobErrorf("%s %s: alias %q is not a valid host name: %s", key, s.Name, alias, msg))
			}
		}
		for _, v := range s.Variables {
			if msgs := validation.IsEnvVarName(v.Key); len(msgs) > 0 {
				errs = append(errs, jobErrorf("%s %s: variable %q is not a valid environment variable name: %s", key, s.Name, v.Key, msgs[0]))
			}
		}
		if _, err := s.ReadinessPorts(); err != nil {
			errs = append(errs, jobErrorf("%s %s: %v", key, s.Name, err))
		}
	}
	return errs
}
