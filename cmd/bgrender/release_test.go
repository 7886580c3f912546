package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestReleaseDryRun: release --dry-run prints the plan and both commits'
// diffs, the flip's built on the deploy's, and pushes nothing; -o json
// lists both commits and the plan.
func TestReleaseDryRun(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	res := r.mustRun(t, "release", "--image", "myapp:v2", "--dry-run")
	for _, want := range []string{
		"plan: release application-service, 3 steps",
		"1. deploy: commit: set green's image to myapp:v2",
		"2. gates: rollout, capacity on green",
		"3. promote: commit: flip the live Service to green",
		"dry run: the rollout of myapp:v2 on green and its gates would run here",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	golden(t, "gitops/plain-release-dry-run.diff", []byte(res.stdout))
	if r.commits(t) != 1 || r.srv.Pushes() != 0 {
		t.Fatal("--dry-run pushed")
	}

	res = r.mustRun(t, "release", "--image", "myapp:v2", "--dry-run", "-o", "json")
	var rep struct {
		App, From, To string
		Commits       []struct {
			Action, To, Image, Diff string
			DryRun                  bool
		}
		Plan []struct{ Kind, Status string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, res.stdout)
	}
	if rep.From != "blue" || rep.To != "green" || len(rep.Commits) != 2 || rep.Commits[0].Action != "deploy" || rep.Commits[1].Action != "promote" ||
		!rep.Commits[1].DryRun || !strings.Contains(rep.Commits[1].Diff, "version: green") || len(rep.Plan) != 3 {
		t.Errorf("json report: %+v", rep)
	}
}

// TestReleaseResumes: a release reads where the app folder stands. The
// idle color already running the image skips the deploy; the live color
// running it is nothing to do.
func TestReleaseResumes(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	r.mustRun(t, "deploy", "--image", "myapp:v2")
	res := r.mustRun(t, "release", "--image", "myapp:v2", "--dry-run")
	if !strings.Contains(res.stderr, "green runs myapp:v2 already (an earlier release deployed it): resuming") ||
		!strings.Contains(res.stderr, "plan: release application-service, 2 steps") {
		t.Errorf("resume:\n%s", res.stderr)
	}
	if changed := strings.Join(changedLines(res.stdout), "\n"); strings.Contains(changed, "image:") || !strings.Contains(changed, "+    version: green") {
		t.Errorf("the resumed release's only diff is the flip:\n%s", changed)
	}

	// The cluster is not read when there is nothing to do.
	kubeconfig := kubetest.WriteKubeconfigFor(t, "https://127.0.0.1:1", "production", "")
	res = r.mustRun(t, "release", "--image", "myapp:v1.2.3", "--kubeconfig", kubeconfig)
	if !strings.Contains(res.stderr, "myapp:v1.2.3 is live on blue already: nothing to do") || res.stdout != "" || r.commits(t) != 2 {
		t.Errorf("nothing to do: commits %d\nstdout %s\nstderr %s", r.commits(t), res.stdout, res.stderr)
	}
}

// TestReleaseUsage: bad usage is exit 2 before anything is read.
func TestReleaseUsage(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no image":                     {nil, "--image is required"},
		"pull request without merging": {[]string{"--image", "x:1", "--pull-request"}, "needs --wait-merge"},
		"no kubeconfig":                {[]string{"--image", "x:1", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig"},
	} {
		res := r.run(t, append([]string{"release"}, c.args...)...)
		if res.code != exitcode.Invalid || !strings.Contains(res.stderr, c.want) || res.stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q", name, res.code, res.stderr, res.stdout)
		}
	}
	if r.commits(t) != 1 {
		t.Error("a usage error committed")
	}
}
