package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

const (
	gitToken = "tok-do-not-print-7f3a"
	appPath  = "apps/my-application"
)

// gitopsRepo is a GitOps repository on a real smart-HTTP Git server.
type gitopsRepo struct {
	srv  *gittest.Server
	url  string
	name string
}

// copyDir copies the files of src into dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeManaged writes a bgrender-managed folder: the seed example as
// bgrender.yaml and its rendered manifests.
func writeManaged(t testing.TB, dir, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, "seed", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "my-application", name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, promote.SpecFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(dir, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
}

// newGitopsRepo serves a repository holding the app folder in the layout
// ("managed" or "plain") and outside files other files elsewhere.
func newGitopsRepo(t *testing.T, layout string, outside int) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	app := filepath.Join(seed, filepath.FromSlash(appPath))
	switch layout {
	case "managed":
		writeManaged(t, app, "my-application")
	case "plain", "plain-canary", "plain-route", "plain-roles", "plain-migration":
		copyDir(t, "../../testdata/gitops/"+layout, app)
	default:
		t.Fatalf("unknown layout %s", layout)
	}
	writeOutside(t, seed, outside)
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}

// writeOutside writes n files outside the app folder, some in a file
// that looks like another app.
func writeOutside(t testing.TB, root string, n int) {
	t.Helper()
	write := func(p, s string) {
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# GitOps\n")
	write("apps/my-application-2/service.yaml", "kind: Service\nmetadata: {name: x}\nspec: {selector: {version: blue}}\n")
	for i := range n {
		write(fmt.Sprintf("clusters/c%02d/ns%03d/config-%05d.yaml", i%20, i%300, i), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\ndata: {i: \"%d\"}\n", i, i))
	}
}

func (r *gitopsRepo) run(t *testing.T, args ...string) result {
	t.Helper()
	args = append(args, "--repo", r.url, "--path", appPath)
	res := runCLI(t, "", args...)
	if strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatalf("bgrender %v printed the token:\n%s%s", args, res.stdout, res.stderr)
	}
	return res
}

func (r *gitopsRepo) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	res := r.run(t, args...)
	if res.code != 0 {
		t.Fatalf("bgrender %v: exit %d\nstdout: %s\nstderr: %s", args, res.code, res.stdout, res.stderr)
	}
	return res
}

func (r *gitopsRepo) git(t *testing.T, args ...string) string {
	t.Helper()
	return gittest.Git(t, r.srv.RepoDir(r.name), args...)
}

func (r *gitopsRepo) commits(t *testing.T) int { return r.srv.CommitCount(t, r.name, "main") }

func (r *gitopsRepo) file(t *testing.T, name string) string {
	t.Helper()
	return r.git(t, "show", "main:"+appPath+"/"+name)
}

// lastDiff is the diff of the newest commit, without the index lines.
func (r *gitopsRepo) lastDiff(t *testing.T) string {
	t.Helper()
	return r.git(t, "diff", "--no-color", "--no-prefix", "main~1", "main") + "\n"
}

// changedFiles lists the files the newest commit changed.
func (r *gitopsRepo) changedFiles(t *testing.T) []string {
	t.Helper()
	return strings.Fields(r.git(t, "diff", "--name-only", "main~1", "main"))
}

func (r *gitopsRepo) checkTrailers(t *testing.T, want map[string]string) {
	t.Helper()
	got := gittest.Trailers(t, r.srv.RepoDir(r.name), "main")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("trailer %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if v, ok := want["Bgrender-Image"]; !ok && got["Bgrender-Image"] != "" {
		t.Errorf("unexpected trailer Bgrender-Image: %s", v)
	}
}

// changedLines returns the added and removed lines of a diff.
func changedLines(diff string) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			out = append(out, l)
		}
	}
	return out
}

func wantLines(t *testing.T, diff string, want ...string) {
	t.Helper()
	if got := changedLines(diff); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed lines:\n%s\nwant:\n%s\ndiff:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), diff)
	}
}

// TestGitopsManagedLayout runs every action on a bgrender-managed folder
// over a real HTTP Git server and checks, with the git CLI, the spec lines
// that changed, the re-rendered manifests, the trailers and the commit
// count.
func TestGitopsManagedLayout(t *testing.T) {
	r := newGitopsRepo(t, "managed", 20)
	const (
		svc   = "service-my-application.yaml"
		blue  = "deployment-my-application-blue.yaml"
		green = "deployment-my-application-green.yaml"
	)

	// deploy: the idle color (green) gets the image.
	r.mustRun(t, "deploy", "--image", "myapp:v2.0.0")
	r.checkTrailers(t, map[string]string{"Bgrender-App": "my-application", "Bgrender-Action": "deploy", "Bgrender-From": "blue", "Bgrender-To": "green", "Bgrender-Image": "myapp:v2.0.0"})
	diff := r.git(t, "diff", "main~1", "main", "--", appPath+"/"+promote.SpecFile)
	wantLines(t, diff, "-    image: myapp:v1.2.3", "+    image: myapp:v2.0.0")
	if got := r.changedFiles(t); strings.Join(got, " ") != appPath+"/bgrender.yaml "+appPath+"/"+green {
		t.Errorf("deploy changed %v", got)
	}
	if !strings.Contains(r.file(t, green), "image: myapp:v2.0.0") || !strings.Contains(r.file(t, blue), "image: myapp:v1.2.3") {
		t.Error("the rendered Deployments do not carry the new image on green only")
	}

	// promote: traffic to green, the Service re-rendered.
	r.mustRun(t, "promote")
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "promote", "Bgrender-From": "blue", "Bgrender-To": "green"})
	diff = r.git(t, "diff", "main~1", "main", "--", appPath+"/"+promote.SpecFile)
	wantLines(t, diff, "-  active: blue", "+  active: green")
	if s := r.file(t, svc); !strings.Contains(s, "version: green") || !strings.Contains(s, "bgrender.io/active-color: green") || !strings.Contains(s, "bgrender.io/previous-color: blue") {
		t.Errorf("service after promote:\n%s", s)
	}
	// The comments of the spec are kept.
	if !strings.Contains(r.file(t, promote.SpecFile), "# the article selects on \"version: blue\"") {
		t.Error("a comment of bgrender.yaml was lost")
	}

	// Promote again to green: nothing to do.
	before := r.commits(t)
	res := r.mustRun(t, "promote", "--to", "green")
	if !strings.Contains(res.stdout, "already live on green") || r.commits(t) != before {
		t.Errorf("second promote: %q, commits %d → %d", res.stdout, before, r.commits(t))
	}

	// scale-idle: blue (now idle) to 0.
	r.mustRun(t, "scale-idle", "--replicas", "0")
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "scale-idle", "Bgrender-From": "green", "Bgrender-To": "blue"})
	diff = r.git(t, "diff", "main~1", "main", "--", appPath+"/"+promote.SpecFile)
	wantLines(t, diff, "+  idleReplicas: 0")
	if !strings.Contains(r.file(t, blue), "replicas: 0") {
		t.Error("blue was not scaled to 0")
	}

	// rollback to blue, which has no replicas: refused (exit 3).
	if res := r.run(t, "rollback"); res.code != exitcode.Refused || !strings.Contains(res.stderr, "0 replicas") {
		t.Fatalf("rollback to a scaled-down color: exit %d, %s", res.code, res.stderr)
	}
	r.mustRun(t, "scale-idle", "--replicas", "3")
	r.mustRun(t, "rollback")
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "rollback", "Bgrender-From": "green", "Bgrender-To": "blue"})
	if !strings.Contains(r.file(t, svc), "version: blue") {
		t.Error("rollback did not route to blue")
	}

	// A deploy on green (now idle) since it was live: a rollback to green
	// would not return to the release that ran there: refused, then forced.
	r.mustRun(t, "deploy", "--image", "myapp:v3.0.0")
	if res := r.run(t, "promote", "--to", "blue"); res.code != 0 {
		t.Fatalf("no-op promote: %d %s", res.code, res.stderr)
	}
	res = r.run(t, "rollback")
	if res.code != exitcode.Refused || !strings.Contains(res.stderr, "myapp:v3.0.0") || !strings.Contains(res.stderr, "--force") {
		t.Fatalf("rollback after a deploy: exit %d, %s", res.code, res.stderr)
	}
	r.mustRun(t, "rollback", "--force")

	// Deploying to the live color needs --force.
	if res := r.run(t, "deploy", "--image", "myapp:v4", "--color", "green"); res.code != exitcode.Refused {
		t.Fatalf("deploy to the live color: exit %d, %s", res.code, res.stderr)
	}
	// seed + deploy, promote, scale-idle ×2, rollback, deploy, rollback
	if n := r.commits(t); n != 8 {
		t.Errorf("commits = %d, want 8", n)
	}
}

// TestGitopsPlainLayout runs every action on the article's hand-written
// manifests; golden diffs pin that a promote changes exactly the selector
// line and the two color annotations.
func TestGitopsPlainLayout(t *testing.T) {
	r := newGitopsRepo(t, "plain", 20)

	r.mustRun(t, "promote")
	golden(t, "gitops/plain-promote.diff", []byte(r.lastDiff(t)))
	r.checkTrailers(t, map[string]string{"Bgrender-App": "application-service", "Bgrender-Action": "promote", "Bgrender-From": "blue", "Bgrender-To": "green"})
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/service.yaml" {
		t.Errorf("promote changed %v", got)
	}

	r.mustRun(t, "deploy", "--image", "myapp:v2.0.0")
	golden(t, "gitops/plain-deploy.diff", []byte(r.lastDiff(t)))
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "deploy", "Bgrender-From": "green", "Bgrender-To": "blue", "Bgrender-Image": "myapp:v2.0.0"})

	r.mustRun(t, "scale-idle", "--replicas", "1")
	wantLines(t, r.lastDiff(t), "-  replicas: 3", "+  replicas: 1")
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/deployment-blue.yaml" {
		t.Errorf("scale-idle changed %v", got)
	}

	// A deploy on blue since it was live: refused, then forced.
	if res := r.run(t, "rollback"); res.code != exitcode.Refused {
		t.Fatalf("rollback: exit %d %s", res.code, res.stderr)
	}
	r.mustRun(t, "rollback", "--force")
	wantLines(t, r.lastDiff(t),
		"-    bgrender.io/active-color: green", "-    bgrender.io/previous-color: blue",
		"+    bgrender.io/active-color: blue", "+    bgrender.io/previous-color: green",
		"-    version: green # Switch to 'green' for deployment", "+    version: blue # Switch to 'green' for deployment")
	if n := r.commits(t); n != 5 {
		t.Errorf("commits = %d, want 5", n)
	}
}

// TestGitopsDryRunAndJSON proves --dry-run prints the unified diff and
// pushes nothing, and -o json reports the commit for CI.
func TestGitopsDryRunAndJSON(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	res := r.mustRun(t, "promote", "--dry-run")
	golden(t, "gitops/plain-promote-dry-run.diff", []byte(res.stdout))
	if dry := decodeResult(t, r.mustRun(t, "promote", "--dry-run", "-o", "json")); !dry.DryRun || dry.PushedTo != "" || dry.Attempts != 0 || dry.Commit != "" {
		t.Errorf("--dry-run -o json reads as if pushed: %+v", dry)
	}
	if r.commits(t) != 1 || r.srv.Pushes() != 0 {
		t.Fatal("--dry-run pushed")
	}

	res = r.mustRun(t, "deploy", "--image", "myapp:v9", "-o", "json", "--author-name", "Release Bot", "--author-email", "bot@example.com")
	var got promote.Result
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, res.stdout)
	}
	head := r.srv.Head(t, r.name, "main")
	if got.Commit != head || got.Branch != "main" || got.From != "blue" || got.To != "green" || got.Image != "myapp:v9" || got.NoOp {
		t.Errorf("json result %+v (head %s)", got, head)
	}
	if a := r.git(t, "log", "-1", "--format=%an <%ae>"); a != "Release Bot <bot@example.com>" {
		t.Errorf("author %s", a)
	}

	// A custom message template; the trailers are still added.
	tmpl := filepath.Join(t.TempDir(), "msg.tmpl")
	os.WriteFile(tmpl, []byte("chore({{.App}}): {{.Action}} to {{.To}}\n"), 0o644)
	r.mustRun(t, "promote", "--message-template", tmpl)
	if subj := r.git(t, "log", "-1", "--format=%s"); subj != "chore(application-service): promote to green" {
		t.Errorf("subject %q", subj)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "promote"})

	res = r.mustRun(t, "promote", "--to", "green", "-o", "json")
	got = promote.Result{}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || !got.NoOp || got.Commit != "" {
		t.Errorf("no-op json: %s (%v)", res.stdout, err)
	}
}

// TestGitopsFaults proves that a failing server gives exit 1, a clear
// error without the token, and leaves the remote unchanged.
func TestGitopsFaults(t *testing.T) {
	cases := map[string]struct {
		fault gittest.Fault
		want  string
	}{
		"500 on receive-pack": {gittest.ReceivePack500, "500"},
		"connection cut":      {gittest.CutPush, "push to main"},
		"token rejected":      {gittest.RejectAuth, "authentication"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := newGitopsRepo(t, "plain", 0)
			before := r.srv.Head(t, r.name, "main")
			r.srv.SetFault(tc.fault)
			res := r.run(t, "promote")
			t.Logf("stderr: %s", res.stderr)
			if res.code != exitcode.Failure || !strings.Contains(res.stderr, tc.want) || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			if after := r.srv.Head(t, r.name, "main"); after != before {
				t.Fatal("the remote changed")
			}
		})
	}
	t.Run("wrong token", func(t *testing.T) {
		r := newGitopsRepo(t, "plain", 0)
		t.Setenv("BGRENDER_GIT_TOKEN", "wrong-token-value")
		res := r.run(t, "promote")
		if res.code != exitcode.Failure || strings.Contains(res.stderr, "wrong-token-value") || !strings.Contains(res.stderr, "authentication") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})
}

// TestGitopsUsage covers bad flags and inputs: exit 2, nothing on stdout.
func TestGitopsUsage(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	for _, args := range [][]string{
		{"promote", "--to", "purple"},
		{"deploy"},
		{"deploy", "--image", "x", "--color", "red"},
		{"scale-idle"},
		{"promote", "-o", "yaml"},
		{"promote", "--wait-merge"},
		{"promote", "--service", "nope"},
		{"promote", "--color-label", "app"},
		{"promote", "--max-attempts", "0"},
		{"promote", "--sign-key", "no-such-key-file"},
	} {
		res := r.run(t, args...)
		if res.code != exitcode.Invalid || res.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, res.code, res.stdout, res.stderr)
		}
	}
	res := runCLI(t, "", "promote", "--repo", r.url, "--path", "apps/missing")
	if res.code != exitcode.Invalid || !strings.Contains(res.stderr, "apps/missing not found") {
		t.Errorf("missing folder: exit %d, %s", res.code, res.stderr)
	}
	if r.commits(t) != 1 {
		t.Error("a usage error committed")
	}
}

// TestGitopsLocalRepository proves --repo takes a local path and a file://
// URL as well as HTTP.
func TestGitopsLocalRepository(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	bare := r.srv.RepoDir(r.name)
	for i, repo := range []string{bare, "file://" + bare} {
		to := []string{"green", "blue"}[i]
		res := runCLI(t, "", "promote", "--repo", repo, "--path", appPath, "--to", to)
		if res.code != 0 {
			t.Fatalf("--repo %s: exit %d: %s", repo, res.code, res.stderr)
		}
		if !strings.Contains(r.file(t, "service.yaml"), "version: "+to) {
			t.Fatalf("--repo %s: not on %s", repo, to)
		}
	}
	if n := r.commits(t); n != 3 {
		t.Fatalf("commits = %d, want 3", n)
	}
}

// TestGitopsBranch proves --branch changes that branch only.
func TestGitopsBranch(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	main := r.srv.Head(t, r.name, "main")
	r.git(t, "branch", "prod", "main")
	res := r.mustRun(t, "promote", "--branch", "prod", "-o", "json")
	var got promote.Result
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || got.Branch != "prod" {
		t.Fatalf("result %s (%v)", res.stdout, err)
	}
	if r.srv.Head(t, r.name, "main") != main || r.srv.Head(t, r.name, "prod") != got.Commit {
		t.Fatal("--branch prod did not commit to prod alone")
	}
	res = r.run(t, "promote", "--branch", "nope")
	t.Log(res.stderr)
	if res.code != exitcode.Invalid || !strings.Contains(res.stderr, "branch nope not found") {
		t.Fatalf("missing branch: exit %d, %s", res.code, res.stderr)
	}
}
