// Checks of the colors and the pods they run: spec.active, the color and
// selector labels, each color's image, replicas and env, and the pod
// template's container name, annotations and securityContext.

package spec

import (
	"regexp"
	"sync"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// imageRE follows the grammar of a container image reference:
// [host[:port]/]path[:tag][@digest].
var imageRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
		`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)
})

// ValidImage reports whether s is a container image reference:
// [registry/]repository[:tag][@digest], the repository in lower case.
func ValidImage(s string) bool { return imageRE().MatchString(s) }

// colors checks which color is active, the labels that tell the colors
// apart, and what each color runs.
func (v *validator) colors() {
	s := &v.app.Spec
	if !s.Active.Valid() {
		v.add("spec.active", "%q is not a color: expected blue or green", s.Active)
	}
	for _, msg := range content.IsLabelKey(s.ColorLabel) {
		v.add("spec.colorLabel", "%q: %s", s.ColorLabel, msg)
	}
	v.labels("spec.selectorLabels", s.SelectorLabels)
	if _, ok := s.SelectorLabels[s.ColorLabel]; ok {
		v.add(keyPath("spec.selectorLabels", s.ColorLabel), "must not contain the color label %q", s.ColorLabel)
	}
	v.nonNegative("spec.replicas", s.Replicas)
	v.nonNegative("spec.idleReplicas", s.IdleReplicas)
	for _, c := range Colors {
		cs := s.ColorSpecOf(c)
		path := "spec." + string(c)
		switch {
		case cs.Image == "":
			v.add(path+".image", "required: the image that the %s Deployment runs", c)
		case !imageRE().MatchString(cs.Image):
			v.add(path+".image", "%q is not a valid image reference (expected [registry/]repository[:tag][@digest], repository in lower case)", cs.Image)
		}
		v.nonNegative(path+".replicas", cs.Replicas)
		v.envVars(path+".env", cs.Env)
	}
}

// pod checks the pod template fields that both colors share.
func (v *validator) pod() {
	s := &v.app.Spec
	if s.ContainerName != v.app.Metadata.Name { // else it is metadata.name, checked by metadata
		for _, msg := range validation.IsDNS1123Label(s.ContainerName) {
			v.add("spec.containerName", "%q: %s", s.ContainerName, msg)
		}
	}
	v.annotations("spec.podAnnotations", s.PodAnnotations)
	if sc := s.SecurityContext; sc != nil {
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			v.add("spec.securityContext.runAsUser", "0 (root) is not allowed: pods must run as a non-root user")
		}
		for field, id := range map[string]*int64{"runAsUser": sc.RunAsUser, "runAsGroup": sc.RunAsGroup, "fsGroup": sc.FSGroup} {
			if id != nil && *id < 0 {
				v.add("spec.securityContext."+field, "must not be negative, got %d", *id)
			}
		}
	}
}
