package promote

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// The expand migration of a plain folder: a Job beside the manifests that
// its author marks with the annotation bgrender.io/migration: expand. It
// is the expand Job of the image its first container runs; deploy edits
// it, in the same commit as the Deployment, for the new image: that
// container's image, the annotation bgrender.io/image, and its name,
// <base>-expand-<hash of the image and the Job's spec>. A new image is so
// a new Job, which the agent creates (and prunes the old one) rather than
// patching a Job's immutable template; deploy --wait waits for it and
// promote's migration gate reads it, as in a managed folder.

// maxJobBase keeps the Job's name a valid label value (the Job controller
// labels its pods with it): the base, "-expand-" and 10 hex digits.
const maxJobBase = 63 - len("-expand-0123456789")

// expandSuffix is what deploy appends to the base of the Job's name.
var expandSuffix = regexp.MustCompile(`-expand(-[0-9a-f]{10})?$`)

// findMigration finds the marked Job among objs: at most one, a batch/v1
// Job with a container, marked expand. A marked object that is not one is
// invalid input, with its file and line.
func (p *plain) findMigration(objs []*manifest) error {
	for _, o := range objs {
		mark := yamledit.Lookup(o.node(), "metadata", "annotations", render.LabelMigration)
		if mark == nil {
			continue
		}
		at := fmt.Sprintf("%s:%d: %s %s: metadata.annotations[%s]", o.file.name, mark.Line, o.kind, o.name, render.LabelMigration)
		switch api := yamledit.Scalar(o.node(), "apiVersion"); {
		case o.kind != "Job" || api != "batch/v1":
			return exitcode.Invalidf("%s: marks a %s %s; only a Job (batch/v1) is a migration", at, api, o.kind)
		case mark.Value != "expand":
			return exitcode.Invalidf("%s: %q: a plain folder runs expand migrations (contract needs a bgrender-managed folder)", at, mark.Value)
		case p.migration != nil:
			return exitcode.Invalidf("%s: a second expand Job; the first is %s", at, p.migration.where())
		}
		if c := p.migrationContainer(o); c == nil {
			return exitcode.Invalidf("%s: spec.template.spec.containers: the migration Job has no container", o.where())
		}
		if base := jobBase(o.name); len(base) > maxJobBase {
			return exitcode.Invalidf("%s: metadata.name: %q is longer than %d characters without its -expand suffix, so that its Job's name with one is still a valid label value", o.where(), base, maxJobBase)
		}
		p.migration = o
	}
	if p.migration != nil {
		p.migrationState()
	}
	return nil
}

// migrationState tells the actions the Job: the color whose image it ran
// has it; a deploy of another image names another.
func (p *plain) migrationState() {
	job := p.migration
	ran := yamledit.Scalar(job.node(), "metadata", "annotations", render.AnnotationImage)
	if ran == "" {
		ran = yamledit.Scalar(p.migrationContainer(job), "image")
	}
	p.st.ExpandJobs = map[spec.Color]string{}
	for _, c := range spec.Colors {
		if p.st.Images[c] == ran {
			p.st.ExpandJobs[c] = job.name
		}
	}
	p.st.ExpandJob = func(_ spec.Color, image string) string {
		name, err := p.expandJobName(image)
		if err != nil {
			return job.name // the deploy itself reports the error
		}
		return name
	}
}

// dropMigration forgets the marked Job: an overlay's build is read as a
// plain folder, but its edits go into patches that do not rename a Job.
func (p *plain) dropMigration() {
	p.migration, p.st.ExpandJobs, p.st.ExpandJob = nil, nil, nil
}

// migrationContainer is the first container of the Job's pod, or nil.
func (p *plain) migrationContainer(job *manifest) *yaml.Node {
	ctrs := yamledit.Lookup(job.node(), "spec", "template", "spec", "containers")
	if ctrs == nil || ctrs.Kind != yaml.SequenceNode || len(ctrs.Content) == 0 || ctrs.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return ctrs.Content[0]
}

// jobBase is the Job's name without the suffix a deploy added.
func jobBase(name string) string { return expandSuffix.ReplaceAllString(name, "") }

// expandJobName is the name of the marked Job once it runs image: the
// hash covers the image and the Job's spec with it.
func (p *plain) expandJobName(image string) (string, error) {
	var job struct {
		Spec map[string]any `yaml:"spec"`
	}
	if err := p.migration.node().Decode(&job); err != nil {
		return "", exitcode.Invalidf("%s: %v", p.migration.where(), err)
	}
	tmpl, _ := job.Spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	ctrs, _ := pod["containers"].([]any)
	first, _ := ctrs[0].(map[string]any)
	first["image"] = image
	b, err := json.Marshal(job.Spec) // map keys sorted: the same spec, the same bytes
	if err != nil {
		return "", exitcode.Invalidf("%s: spec: %v", p.migration.where(), err)
	}
	h := sha256.New()
	h.Write([]byte(image))
	h.Write([]byte{0})
	h.Write(b)
	return jobBase(p.migration.name) + "-expand-" + hex.EncodeToString(h.Sum(nil))[:10], nil
}

// setMigrationImage edits the marked Job for image (see above).
func (p *plain) setMigrationImage(image string) error {
	job := p.migration
	name, err := p.expandJobName(image)
	if err != nil {
		return err
	}
	y := job.file.y
	if _, err := y.SetNode(p.migrationContainer(job), []string{"image"}, image); err != nil {
		return job.file.wrap(err)
	}
	if _, err := y.SetString(job.doc, []string{"metadata", "annotations", render.AnnotationImage}, image); err != nil {
		return job.file.wrap(err)
	}
	_, err = y.SetString(job.doc, []string{"metadata", "name"}, name)
	job.name = name
	return job.file.wrap(err)
}
