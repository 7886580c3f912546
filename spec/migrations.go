// spec.migrations: the database migration Jobs of a release, their
// defaults and their checks. Expand runs with each new image, before the
// color gets traffic; contract runs once the old color is retired (the
// contract action), and contracted records it.

package spec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Defaults of a migration Job.
const (
	// DefaultMigrationBackoffLimit: a failed migration is not run again
	// by itself; deploy --wait reports it, and a fix is a new deploy.
	DefaultMigrationBackoffLimit = int32(0)
	// DefaultMigrationDeadlineSeconds bounds a migration that hangs.
	DefaultMigrationDeadlineSeconds = int64(600)
)

// MigrationJobSuffix is the longest suffix of a migration Job's name:
// "-expand-" and a hash of 10 hex digits.
const MigrationJobSuffix = "-contract-0123456789"

// MigrationsSpec are the database migrations of a release, as the
// expand/contract rule splits them: expand (backward compatible: add a
// column, a table) runs before the new color gets traffic; contract (drop
// what the old version used) only after the old color is retired.
type MigrationsSpec struct {
	// Expand runs, as a Job, with each new image of a color.
	Expand *MigrationJobSpec `json:"expand,omitempty"`
	// Contract runs, as a Job, when the contract action finds the old
	// color retired; it needs expand.
	Contract *MigrationJobSpec `json:"contract,omitempty"`
	// Contracted records the last contract: the contract action writes
	// it, and no flip goes to an image it retired.
	Contracted *ContractedSpec `json:"contracted,omitempty"`
}

// ContractedSpec is the record of the last contract, written by the
// contract action.
type ContractedSpec struct {
	// Image is the app image the schema was contracted for.
	Image string `json:"image"`
	// Job names the contract Job that ran it; the render keeps that Job
	// while the spec still renders the same one (a changed pod would be a
	// new Job, and the contract would run again: the Job leaves the folder
	// instead).
	Job string `json:"job,omitempty"`
	// Retired are the images the colors ran before the contract (this
	// one's and earlier ones', the newest first, at most
	// MaxRetiredImages): their code may read what the contract dropped,
	// so rollback, promote and guard refuse to send traffic to them.
	Retired []string `json:"retired,omitempty"`
}

// MaxRetiredImages is how many retired images spec.migrations.contracted
// keeps.
const MaxRetiredImages = 10

// MigrationJobSpec is a migration Job's pod, in the app's terms: it runs
// with the app's env, envFrom, service account and restricted security
// settings, and the color's image unless image is set.
type MigrationJobSpec struct {
	// Image of the migration container (default: the color's image).
	Image string `json:"image,omitempty"`
	// Command and Args of the migration container (default: the image's
	// entrypoint and arguments).
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env is added after the app's env (spec.env and the color's); a
	// variable of the same name replaces the app's.
	Env []corev1.EnvVar `json:"env,omitempty"`
	// EnvFrom is added after the app's envFrom.
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// Resources of the migration container (default: spec.resources).
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// BackoffLimit is how many times a failed pod is retried (default 0).
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// ActiveDeadlineSeconds ends a migration that runs longer (default 600).
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
}

// DefaultMigrations fills each Job's backoffLimit and deadline, so that
// Git says what the cluster does.
func DefaultMigrations(m *MigrationsSpec) {
	if m == nil {
		return
	}
	for _, j := range []*MigrationJobSpec{m.Expand, m.Contract} {
		if j == nil {
			continue
		}
		if j.BackoffLimit == nil {
			j.BackoffLimit = ptr.To(DefaultMigrationBackoffLimit)
		}
		if j.ActiveDeadlineSeconds == nil {
			j.ActiveDeadlineSeconds = ptr.To(DefaultMigrationDeadlineSeconds)
		}
	}
}

// Contracts reports whether the app has a contract migration.
func (s *AppSpec) Contracts() bool { return s.Migrations != nil && s.Migrations.Contract != nil }

// ContractedFor returns the record of the last contract, or nil.
func (s *AppSpec) ContractedFor() *ContractedSpec {
	if s.Migrations == nil {
		return nil
	}
	return s.Migrations.Contracted
}

// Expands reports whether the app runs an expand migration with each new
// image.
func (s *AppSpec) Expands() bool { return s.Migrations != nil && s.Migrations.Expand != nil }

// migrations checks spec.migrations.
func (v *validator) migrations() {
	m := v.app.Spec.Migrations
	if m == nil {
		return
	}
	if m.Expand == nil && m.Contract == nil && m.Contracted == nil {
		v.add("spec.migrations", "set expand (and later contract), or drop the block")
		return
	}
	if m.Contract != nil && m.Expand == nil {
		v.add("spec.migrations.contract", "needs spec.migrations.expand: a contract drops what an expand made the new version stop using")
	}
	if n := v.app.Metadata.Name; len(n) > maxMigratingName {
		v.add("metadata.name", "%q is %d characters; with spec.migrations at most %d, so that the Job %q is still a valid name", n, len(n), maxMigratingName, n+MigrationJobSuffix)
	}
	v.migrationJob("spec.migrations.expand", m.Expand)
	v.migrationJob("spec.migrations.contract", m.Contract)
	v.contracted(m)
}

// contracted checks spec.migrations.contracted.
func (v *validator) contracted(m *MigrationsSpec) {
	ct := m.Contracted
	if ct == nil {
		return
	}
	const path = "spec.migrations.contracted"
	if m.Contract == nil {
		v.add(path, "records a contract, but spec.migrations.contract is not set")
	}
	if !ValidImage(ct.Image) {
		v.add(path+".image", "%q is not a valid image reference (expected [registry/]repository[:tag][@digest], repository in lower case)", ct.Image)
	}
	if ct.Job != "" && !strings.HasPrefix(ct.Job, v.app.Metadata.Name+"-contract-") {
		v.add(path+".job", "%q is not a contract Job of %s (%s-contract-<hash>)", ct.Job, v.app.Metadata.Name, v.app.Metadata.Name)
	}
	if len(ct.Retired) > MaxRetiredImages {
		v.add(path+".retired", "%d images; at most %d are kept", len(ct.Retired), MaxRetiredImages)
	}
	for i, img := range ct.Retired {
		if !ValidImage(img) {
			v.add(fmt.Sprintf("%s.retired[%d]", path, i), "%q is not a valid image reference", img)
		}
	}
}

// maxMigratingName keeps a migration Job's name a valid label value: the
// Job controller labels its pods with it.
const maxMigratingName = 63 - len(MigrationJobSuffix)

// migrationJob checks one migration Job's fields.
func (v *validator) migrationJob(path string, j *MigrationJobSpec) {
	if j == nil {
		return
	}
	if j.Image == "" && len(j.Command) == 0 && len(j.Args) == 0 {
		v.add(path, "set command (or args, or an image of its own): the color's image would start the app, which never completes")
	}
	if j.Image != "" && !ValidImage(j.Image) {
		v.add(path+".image", "%q is not a valid image reference (expected [registry/]repository[:tag][@digest], repository in lower case)", j.Image)
	}
	v.envVars(path+".env", j.Env)
	v.envFrom(path+".envFrom", j.EnvFrom)
	if j.Resources != nil {
		v.resourceList(path+".resources", *j.Resources)
	}
	v.nonNegative(path+".backoffLimit", j.BackoffLimit)
	if d := j.ActiveDeadlineSeconds; d != nil && *d < 1 {
		v.add(path+".activeDeadlineSeconds", "must be at least 1, got %d", *d)
	}
}
