package main

import (
	"strings"
	"testing"
)

// TestPlainMigration: in a plain folder, the Job marked
// bgrender.io/migration: expand is the expand Job of the image it runs;
// deploy edits it for the new image in the same commit (its first
// container's image, bgrender.io/image, its name for the image), and a
// second deploy renames it again. The diff is golden.
func TestPlainMigration(t *testing.T) {
	r := newGitopsRepo(t, "plain-migration", 0)
	r.mustRun(t, "deploy", "--image", "myapp:v2")
	golden(t, "gitops/plain-migration-deploy.diff", []byte(r.lastDiff(t)))
	job := r.file(t, "job-migrate.yaml")
	for _, want := range []string{"name: application-migrate-expand-", "bgrender.io/image: myapp:v2", "image: myapp:v2", "bgrender.io/migration: expand   # the mark"} {
		if !strings.Contains(job, want) {
			t.Errorf("job-migrate.yaml after deploy lacks %q:\n%s", want, job)
		}
	}
	first := nameOf(job)
	r.mustRun(t, "promote", "--no-spec-gates") // no cluster here for the migration gate
	r.mustRun(t, "deploy", "--image", "myapp:v3")
	second := nameOf(r.file(t, "job-migrate.yaml"))
	if first == second || !strings.HasPrefix(second, "application-migrate-expand-") || len(second) != len(first) {
		t.Errorf("the Job of myapp:v3 is %s, of myapp:v2 %s: want a new name of the same form", second, first)
	}
}

// nameOf is the metadata.name of a one-document manifest.
func nameOf(manifest string) string {
	for _, line := range strings.Split(manifest, "\n") {
		if name, ok := strings.CutPrefix(line, "  name: "); ok {
			return name
		}
	}
	return ""
}

// TestPlainMigrationBadInput: a marked object that is not a Job, a mark
// other than expand, or two marked Jobs are exit 2 with file and line;
// nothing is committed.
func TestPlainMigrationBadInput(t *testing.T) {
	for name, tc := range map[string]struct{ file, text, want string }{
		"not a Job": {"config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrate\n  annotations:\n    bgrender.io/migration: expand\n",
			"config.yaml:6: ConfigMap migrate: metadata.annotations[bgrender.io/migration]: marks a v1 ConfigMap; only a Job (batch/v1) is a migration"},
		"contract": {"contract.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: drop\n  annotations:\n    bgrender.io/migration: contract\nspec:\n  template:\n    spec:\n      containers: [{name: m, image: myapp:v1.2.3}]\n",
			`contract.yaml:6: Job drop: metadata.annotations[bgrender.io/migration]: "contract": a plain folder runs expand migrations (contract needs a bgrender-managed folder)`},
		"two": {"second.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: zz-second\n  annotations: {bgrender.io/migration: expand}\nspec:\n  template:\n    spec:\n      containers: [{name: m, image: myapp:v1.2.3}]\n",
			"second.yaml:5: Job zz-second: metadata.annotations[bgrender.io/migration]: a second expand Job; the first is job-migrate.yaml: Job application-migrate"},
		"no container": {"job-migrate.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: application-migrate\n  annotations: {bgrender.io/migration: expand}\nspec:\n  template:\n    spec:\n      containers: []\n",
			"job-migrate.yaml: Job application-migrate: spec.template.spec.containers: the migration Job has no container"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newGitopsRepo(t, "plain-migration", 0)
			r.commitFile(t, tc.file, tc.text)
			before := r.commits(t)
			res := r.run(t, "deploy", "--image", "myapp:v2")
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) || r.commits(t) != before {
				t.Errorf("exit %d, %d commits (want %d)\nstderr: %s\nwant: %s", res.code, r.commits(t), before, res.stderr, tc.want)
			}
		})
	}
}
