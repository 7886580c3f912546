package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// handCommit changes a file of the app folder the way a person would: a
// clone, an edit, a commit without Bgrender-* trailers, a push.
func (r *gitopsRepo) handCommit(t *testing.T, file, old, new string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "clone", "--quiet", r.srv.RepoDir(r.name), dir)
	p := filepath.Join(dir, filepath.FromSlash(appPath), file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-am", "hotfix by hand")
	gittest.Git(t, dir, "push", "--quiet", "origin", "HEAD:main")
}

// TestRollbackSeesHandEdits: a rollback compares the image the previous
// color runs now with the one it ran when it was last live, read from the
// app folder in history, so an image changed by hand (no trailers) stops
// it as a bgrender deploy would; once the image is back, it goes ahead.
func TestRollbackSeesHandEdits(t *testing.T) {
	for _, layout := range []string{"plain", "managed"} {
		t.Run(layout, func(t *testing.T) {
			r := newGitopsRepo(t, layout, 0)
			r.mustRun(t, "promote") // green live; blue, the previous color, ran myapp:v1.2.3
			file, image := "deployment-blue.yaml", "image: myapp:v1.2.3"
			if layout == "managed" {
				file, image = "bgrender.yaml", "blue:\n    image: myapp:v1.2.3"
			}
			r.handCommit(t, file, image, strings.Replace(image, "v1.2.3", "hotfix-7", 1))
			before := r.commits(t)
			res := r.run(t, "rollback")
			if res.code != exitcode.Refused || res.stdout != "" {
				t.Fatalf("rollback after a hand edit: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
			}
			for _, want := range []string{"blue runs myapp:hotfix-7, but ran myapp:v1.2.3 when it was last live", "--force"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
			if r.commits(t) != before {
				t.Fatal("a refused rollback committed")
			}

			r.handCommit(t, file, "hotfix-7", "v1.2.3")
			r.mustRun(t, "rollback")
			r.checkTrailers(t, map[string]string{"Bgrender-Action": "rollback", "Bgrender-From": "green", "Bgrender-To": "blue"})
		})
	}
}

// TestRollbackIgnoresOtherFolders: in a monorepo, a deploy to an app of the
// same name in another folder (staging) does not stop the rollback of this
// one: the check reads this folder's history only.
func TestRollbackIgnoresOtherFolders(t *testing.T) {
	r := newGitopsRepo(t, "managed", 0)
	r.mustRun(t, "promote") // green live; blue ran myapp:v1.2.3
	const staging = "apps/staging/my-application"
	dir := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "clone", "--quiet", r.srv.RepoDir(r.name), dir)
	copyDir(t, filepath.Join(dir, filepath.FromSlash(appPath)), filepath.Join(dir, filepath.FromSlash(staging)))
	gittest.Git(t, dir, "add", ".")
	gittest.Git(t, dir, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "--quiet", "-m", "staging copy")
	gittest.Git(t, dir, "push", "--quiet", "origin", "HEAD:main")
	res := runCLI(t, "", "deploy", "--image", "myapp:v9", "--color", "blue", "--force", "--repo", r.url, "--path", staging)
	if res.code != 0 {
		t.Fatalf("staging deploy: exit %d: %s", res.code, res.stderr)
	}
	r.mustRun(t, "rollback")
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "rollback", "Bgrender-To": "blue"})
}

// TestRollbackThroughAStaleMerge: someone with a clone from before the
// last releases commits elsewhere, runs git pull (a merge whose first
// parent is their stale commit) and pushes. Rollback reads the folder's
// real history through the merge: blue ran v3 when it was last live, runs
// v3 now, and the rollback goes ahead.
func TestRollbackThroughAStaleMerge(t *testing.T) {
	r := newGitopsRepo(t, "managed", 0)
	stale := filepath.Join(t.TempDir(), "stale")
	gittest.Git(t, "", "clone", "--quiet", r.srv.RepoDir(r.name), stale)
	r.mustRun(t, "deploy", "--image", "myapp:v3") // green
	r.mustRun(t, "promote")                       // green live
	r.mustRun(t, "deploy", "--image", "myapp:v3") // blue
	r.mustRun(t, "promote")                       // blue live on v3
	r.mustRun(t, "deploy", "--image", "myapp:v4") // green
	r.mustRun(t, "promote")                       // green live; blue ran v3
	id := []string{"-c", "user.name=Dev", "-c", "user.email=dev@example.com"}
	// The stale commit even touches the app folder (a file beside the
	// spec): its copy of the spec, blue live on v1.2.3, is old, not made.
	if err := os.WriteFile(filepath.Join(stale, filepath.FromSlash(appPath), "OWNERS"), []byte("team-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, stale, "add", ".")
	gittest.Git(t, stale, append(id, "commit", "--quiet", "-m", "notes")...)
	gittest.Git(t, stale, append(id, "pull", "--quiet", "--no-rebase", "--no-edit", "origin", "main")...)
	gittest.Git(t, stale, "push", "--quiet", "origin", "HEAD:main")
	if parents := strings.Fields(r.git(t, "log", "-1", "--format=%P", "main")); len(parents) != 2 {
		t.Fatalf("main is not a merge: %v", parents)
	}
	res := r.run(t, "rollback")
	if res.code != 0 {
		t.Fatalf("rollback through a stale merge: exit %d: %s", res.code, res.stderr)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "rollback", "Bgrender-To": "blue"})
}
