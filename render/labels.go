package render

import (
	"maps"

	"github.com/bgrender/bgrender/spec"
)

// Labels and annotations that bgrender writes.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "bgrender"

	AnnotationActiveColor   = "bgrender.io/active-color"
	AnnotationPreviousColor = "bgrender.io/previous-color"
	AnnotationPreviewColor  = "bgrender.io/preview-color"
)

// SelectorLabels select the pods of one color of an app.
func SelectorLabels(app *spec.BlueGreenApp, c spec.Color) map[string]string {
	l := maps.Clone(app.Spec.SelectorLabels)
	l[app.Spec.ColorLabel] = string(c)
	return l
}

// podLabels are the labels of a color's pod template: the user's labels and
// the selector labels.
func podLabels(app *spec.BlueGreenApp, c spec.Color) map[string]string {
	l := maps.Clone(app.Metadata.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[LabelName] = app.Metadata.Name
	maps.Copy(l, SelectorLabels(app, c))
	return l
}

// CommonMetadata sets the namespace, the user's labels and annotations, and
// bgrender's own labels on every object of an app. Labels that a generator
// set (the color) win over the user's.
func CommonMetadata(app *spec.BlueGreenApp, objs []Object) []Object {
	for _, o := range objs {
		o.SetNamespace(app.Metadata.Namespace)
		labels := maps.Clone(app.Metadata.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelName] = app.Metadata.Name
		labels[LabelManagedBy] = ManagedBy
		maps.Copy(labels, o.GetLabels())
		o.SetLabels(labels)
		if len(app.Metadata.Annotations) > 0 {
			annotations := maps.Clone(app.Metadata.Annotations)
			maps.Copy(annotations, o.GetAnnotations())
			o.SetAnnotations(annotations)
		}
	}
	return objs
}

// colorName names an object that belongs to one color.
func colorName(app *spec.BlueGreenApp, c spec.Color) string {
	return app.Metadata.Name + "-" + string(c)
}

// colorLabels is the label set of an object that belongs to one color.
func colorLabels(app *spec.BlueGreenApp, c spec.Color) map[string]string {
	return map[string]string{app.Spec.ColorLabel: string(c)}
}
