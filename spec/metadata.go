// Checks of metadata: the app's name, namespace, labels and annotations;
// and the name, label and annotation checks that other parts reuse.

package spec

import (
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// LongestSuffix is the longest suffix bgrender appends to the app name.
const LongestSuffix = "-preview"

// MaxNameLength keeps every rendered name a valid DNS label.
const MaxNameLength = validation.DNS1035LabelMaxLength - len(LongestSuffix)

// metadata checks the app's name (short enough for every rendered name),
// namespace, labels and annotations.
func (v *validator) metadata() {
	m := v.app.Metadata
	switch {
	case m.Name == "":
		v.add("metadata.name", "required")
	case len(m.Name) > MaxNameLength:
		v.add("metadata.name", "%q is %d characters; at most %d, so that %q is still a valid name", m.Name, len(m.Name), MaxNameLength, m.Name+LongestSuffix)
	default:
		for _, msg := range validation.IsDNS1035Label(m.Name) {
			v.add("metadata.name", "%q: %s", m.Name, msg)
		}
	}
	if m.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			v.add("metadata.namespace", "%q: %s", m.Namespace, msg)
		}
	}
	v.labels("metadata.labels", m.Labels)
	v.annotations("metadata.annotations", m.Annotations)
	if _, ok := m.Labels[v.app.Spec.ColorLabel]; ok {
		v.add(keyPath("metadata.labels", v.app.Spec.ColorLabel), "the color label %q is set by bgrender per color; remove it", v.app.Spec.ColorLabel)
	}
}

// labels checks the keys and values of a label map.
func (v *validator) labels(path string, labels map[string]string) {
	for k, val := range labels {
		p := keyPath(path, k)
		for _, msg := range content.IsLabelKey(k) {
			v.add(p, "key %q: %s", k, msg)
		}
		for _, msg := range content.IsLabelValue(val) {
			v.add(p, "value %q: %s", val, msg)
		}
	}
}

// annotations checks the keys of an annotation map.
func (v *validator) annotations(path string, annotations map[string]string) {
	for k := range annotations {
		for _, msg := range content.IsLabelKey(k) {
			v.add(keyPath(path, k), "key %q: %s", k, msg)
		}
	}
}

// refName checks the name of an object the spec refers to, such as a
// ConfigMap, Secret or IngressClass.
func (v *validator) refName(path, name string) {
	if name == "" {
		v.add(path, "required")
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		v.add(path, "%q: %s", name, msg)
	}
}
