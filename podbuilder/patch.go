package podbuilder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/k8sdrv/k8sdrv/config"
)

// applyPatches applies the [[pod_spec]] patches to spec, in order. A patch
// that leaves fields PodSpec does not have is an error, not a silent no-op.
func applyPatches(spec *corev1.PodSpec, patches []config.PodSpecPatch) error {
	for i, p := range patches {
		original, err := json.Marshal(spec)
		if err != nil {
			return err
		}
		var patched []byte
		switch p.PatchType {
		case "merge":
			patched, err = jsonpatch.MergePatch(original, p.JSON)
		case "json":
			var ops jsonpatch.Patch
			if ops, err = jsonpatch.DecodePatch(p.JSON); err == nil {
				patched, err = ops.Apply(original)
			}
		default:
			patched, err = strategicpatch.StrategicMergePatch(original, p.JSON, corev1.PodSpec{})
		}
		if err == nil {
			var out corev1.PodSpec
			dec := json.NewDecoder(bytes.NewReader(patched))
			dec.DisallowUnknownFields()
			if err = dec.Decode(&out); err == nil {
				*spec = out
			}
		}
		if err == nil {
			err = keepsWhatStagesNeed(spec)
		}
		if err != nil {
			return fmt.Errorf("pod_spec[%d] (%s): %s patch: %w", i, p.Name, p.PatchType, err)
		}
	}
	return nil
}

// keepsWhatStagesNeed refuses a patched spec in which a stage could not
// run: without the build or helper container, its execution-model mount,
// or a volume one of its mounts names.
func keepsWhatStagesNeed(spec *corev1.PodSpec) error {
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	for _, name := range []string{BuildContainer, HelperContainer} {
		i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == name })
		if i < 0 {
			return fmt.Errorf("the pod has no %s container left: k8sdrv runs the job's stages in it", name)
		}
		if !slices.ContainsFunc(spec.Containers[i].VolumeMounts, func(m corev1.VolumeMount) bool {
			return strings.HasPrefix(m.Name, stagesVolume)
		}) {
			return fmt.Errorf("the %s container lost k8sdrv's volume: its stages keep their scripts and exit codes there", name)
		}
	}
	for _, c := range spec.Containers {
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				return fmt.Errorf("container %s mounts volume %q, which the pod no longer has", c.Name, m.Name)
			}
		}
	}
	return nil
}

// lifecycle converts [container_lifecycle] for the build container.
func lifecycle(l config.Lifecycle) *corev1.Lifecycle {
	if l.PostStart == nil && l.PreStop == nil {
		return nil
	}
	return &corev1.Lifecycle{PostStart: handler(l.PostStart), PreStop: handler(l.PreStop)}
}

func handler(h *config.LifecycleHandler) *corev1.LifecycleHandler {
	if h == nil {
		return nil
	}
	out := &corev1.LifecycleHandler{}
	if h.Exec != nil {
		out.Exec = &corev1.ExecAction{Command: h.Exec.Command}
	}
	if g := h.HTTPGet; g != nil {
		out.HTTPGet = &corev1.HTTPGetAction{Port: intstrFrom(g.Port), Host: g.Host, Path: g.Path, Scheme: corev1.URIScheme(g.Scheme)}
		for _, hd := range g.HTTPHeaders {
			out.HTTPGet.HTTPHeaders = append(out.HTTPGet.HTTPHeaders, corev1.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
	}
	if s := h.TCPSocket; s != nil {
		out.TCPSocket = &corev1.TCPSocketAction{Port: intstrFrom(s.Port), Host: s.Host}
	}
	return out
}

func intstrFrom(port int) intstr.IntOrString { return intstr.FromInt32(int32(port)) }
