package status

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/render"
)

// Jobs is the resource of the migration Jobs that spec.migrations renders.
var Jobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// Migration is one migration Job of an app (spec.migrations): an expand
// Job per image, and the Job of the last contract.
type Migration struct {
	Job string `json:"job"`
	// Kind is expand or contract.
	Kind  string `json:"kind"`
	Color string `json:"color,omitempty"`
	Image string `json:"image,omitempty"`
	// Status is succeeded, failed or running.
	Status string `json:"status"`
}

// migrationsByApp groups the migration Jobs by app, expand before
// contract, then by name.
func migrationsByApp(jobs []batchv1.Job, colorLabel func(app string) string) map[string][]Migration {
	out := map[string][]Migration{}
	for _, j := range jobs {
		app, kind := j.Labels[render.LabelName], j.Labels[render.LabelMigration]
		if app == "" || kind == "" {
			continue
		}
		out[app] = append(out[app], Migration{Job: j.Name, Kind: kind, Color: j.Labels[colorLabel(app)],
			Image: j.Annotations[render.AnnotationImage], Status: jobStatus(&j)})
	}
	for _, ms := range out {
		slices.SortFunc(ms, func(a, b Migration) int {
			return cmp.Or(cmp.Compare(b.Kind, a.Kind), cmp.Compare(a.Job, b.Job)) // expand, then contract
		})
	}
	return out
}

// jobStatus reads a Job's final conditions.
func jobStatus(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "succeeded"
		case batchv1.JobFailed:
			return "failed"
		}
	}
	return "running"
}

// writeMigrations writes the app's migration Jobs and the image its
// schema was contracted for, when it has either.
func writeMigrations(w io.Writer, a *App) {
	if a.Contracted != "" {
		fmt.Fprintf(w, "\nschema: contracted for %s (a flip to an image the contract retired needs --force)\n", a.Contracted)
	}
	if len(a.Migrations) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "MIGRATION\tJOB\tCOLOR\tIMAGE\tSTATUS")
	for _, m := range a.Migrations {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.Kind, m.Job, orDash(m.Color), orDash(m.Image), m.Status)
	}
}
