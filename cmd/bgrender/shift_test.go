package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// withTraffic is the seed example behind a Gateway, splitting nothing yet.
const withTraffic = `  traffic:
    weight: 0   # the idle color's percent
    gateway:
      parentRefs: [{name: public, namespace: gateway-system}]
      hostnames: [api.example.com]
`

// newTrafficRepo serves a managed folder whose spec has spec.traffic.
func newTrafficRepo(t *testing.T) *gitopsRepo { return newTrafficRepoWith(t, withTraffic) }

// newTrafficRepoWith serves a managed folder with the traffic lines given.
func newTrafficRepoWith(t *testing.T, traffic string) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	app := filepath.Join(seed, filepath.FromSlash(appPath))
	writeManaged(t, app, "my-application")
	specPath := filepath.Join(app, promote.SpecFile)
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, traffic...)
	if err := os.WriteFile(specPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(app, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}

// TestShift: shift --weight edits exactly the weight line of bgrender.yaml
// (comment kept) and re-renders the folder in the same commit; the same
// weight again is a no-op; a weight outside 0-100, a folder without
// spec.traffic and plain manifests are refused (exit 2) with nothing pushed.
func TestShift(t *testing.T) {
	r := newTrafficRepo(t)
	before := r.commits(t)
	res := r.mustRun(t, "shift", "--weight", "10")
	if !strings.Contains(res.stdout, "shift my-application: send 10% of traffic to green (blue keeps 90%)") {
		t.Errorf("stdout: %s", res.stdout)
	}
	if got := r.commits(t); got != before+1 {
		t.Fatalf("commits %d, want %d", got, before+1)
	}
	diff := r.lastDiff(t)
	if !strings.Contains(diff, "-    weight: 0   # the idle color's percent\n+    weight: 10   # the idle color's percent\n") {
		t.Errorf("the weight line (with its comment) is not what changed:\n%s", diff)
	}
	for _, line := range strings.Split(diff, "\n") {
		if strings.HasPrefix(line, "+++ b/") && !strings.HasPrefix(line, "+++ b/"+appPath+"/") {
			t.Errorf("a file outside the app folder changed: %s", line)
		}
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "shift", "Bgrender-From": "blue", "Bgrender-To": "green"})

	res = r.mustRun(t, "shift", "--weight", "10")
	if !strings.Contains(res.stdout, "already sends 10% of traffic to green") || r.commits(t) != before+1 {
		t.Errorf("the same weight again: %s (%d commits)", res.stdout, r.commits(t))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"shift", "--weight", "101"}, "--weight 101: want a percentage, 0 to 100"},
		{[]string{"shift"}, "--weight is required"},
	} {
		if res := r.run(t, tc.args...); res.code != 2 || !strings.Contains(res.stderr, tc.want) || res.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q", tc.args, res.code, res.stderr)
		}
	}

	plain := newGitopsRepo(t, "plain", 0)
	if res := plain.run(t, "shift", "--weight", "10"); res.code != 2 || !strings.Contains(res.stderr, "no canary Ingress or weighted HTTPRoute for application-service") || plain.commits(t) != 1 {
		t.Errorf("plain: exit %d, stderr %q, %d commits", res.code, res.stderr, plain.commits(t))
	}
	managed := newGitopsRepo(t, "managed", 0)
	if res := managed.run(t, "shift", "--weight", "10"); res.code != 2 || !strings.Contains(res.stderr, "the app splits no traffic") || managed.commits(t) != 1 {
		t.Errorf("managed without spec.traffic: exit %d, stderr %q, %d commits", res.code, res.stderr, managed.commits(t))
	}
}

// TestShiftThenPromoteOrRollback: promote during a shift flips the Services
// and ends the shift in one commit; rollback during a shift returns the
// shifted share to the live color and leaves the Services.
func TestShiftThenPromoteOrRollback(t *testing.T) {
	r := newTrafficRepo(t)
	r.mustRun(t, "shift", "--weight", "25")
	res := r.mustRun(t, "rollback")
	if !strings.Contains(res.stdout, "return the 25% shifted to green to blue") {
		t.Errorf("rollback during a shift: %s", res.stdout)
	}
	spec := r.file(t, promote.SpecFile)
	if !strings.Contains(spec, "  active: blue") || !strings.Contains(spec, "    weight: 0") {
		t.Errorf("after the rollback:\n%s", spec)
	}
	r.mustRun(t, "shift", "--weight", "50")
	res = r.mustRun(t, "promote")
	if !strings.Contains(res.stdout, "switch traffic from blue to green (ends the 50% shift)") {
		t.Errorf("promote during a shift: %s", res.stdout)
	}
	spec = r.file(t, promote.SpecFile)
	if !strings.Contains(spec, "  active: green") || !strings.Contains(spec, "    weight: 0") {
		t.Errorf("after the promotion:\n%s", spec)
	}
}

// TestShiftSafety: no commit sends traffic to a color without pods or
// rolls out a color under traffic: shift to a color at 0 replicas,
// scale-idle to 0 and deploy to the idle color while it carries a share
// are refused (exit 3) with nothing pushed, unless --force where it makes
// sense.
func TestShiftSafety(t *testing.T) {
	r := newTrafficRepo(t)
	r.mustRun(t, "scale-idle", "--replicas", "0")
	before := r.commits(t)
	if res := r.run(t, "shift", "--weight", "10"); res.code != 3 || !strings.Contains(res.stderr, "0 replicas on green") || r.commits(t) != before {
		t.Errorf("shift to a color at 0 replicas: exit %d, stderr %q", res.code, res.stderr)
	}
	r.mustRun(t, "scale-idle", "--replicas", "3")
	r.mustRun(t, "shift", "--weight", "10")
	before = r.commits(t)
	if res := r.run(t, "scale-idle", "--replicas", "0"); res.code != 3 || !strings.Contains(res.stderr, "green carries 10% of my-application's traffic") || r.commits(t) != before {
		t.Errorf("scale-idle 0 during a shift: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := r.run(t, "deploy", "--image", "myapp:v9"); res.code != 3 || !strings.Contains(res.stderr, "would roll out under live requests") || r.commits(t) != before {
		t.Errorf("deploy to the shifted color: exit %d, stderr %q", res.code, res.stderr)
	}
	r.mustRun(t, "deploy", "--image", "myapp:v9", "--force")
}

// TestShiftRacesPromote runs shift and promote on one app at once, several
// times: whatever the order, nothing is lost — every exit 0 is a commit on
// the branch, the other process either commits after it or stops with a
// conflict (the app changed between its attempts) — and Git never ends up
// with a weight on a color the shift did not mean (a shift retried after
// a promote would send its share to the new idle color).
func TestShiftRacesPromote(t *testing.T) {
	gittest.GitPath(t)
	if testing.Short() {
		t.Skip("builds and runs bgrender processes; skipped under -short")
	}
	bin := buildBinary(t)
	for round := range 4 {
		r := newTrafficRepo(t)
		before := r.commits(t)
		type out struct {
			code   int
			stderr string
		}
		results := make([]out, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, args := range [][]string{{"shift", "--weight", "30"}, {"promote"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(bin, append(args, "--repo", r.url, "--path", appPath)...)
				cmd.Env = append(os.Environ(), "BGRENDER_GIT_TOKEN="+gitToken)
				var errOut bytes.Buffer
				cmd.Stderr = &errOut
				<-start
				_ = cmd.Run()
				results[i] = out{cmd.ProcessState.ExitCode(), errOut.String()}
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, res := range results {
			switch {
			case res.code == 0:
				ok++
			case !strings.Contains(res.stderr, "changed on the branch while this change was being pushed"):
				t.Errorf("round %d: exit %d, not for a conflict:\n%s", round, res.code, res.stderr)
			}
		}
		if got := r.commits(t) - before; got != ok {
			t.Errorf("round %d: %d processes succeeded, %d commits", round, ok, got)
		}
		spec := r.file(t, promote.SpecFile)
		if strings.Contains(spec, "  active: green") && strings.Contains(spec, "    weight: 30") {
			t.Errorf("round %d: after the promotion a shift sent 30%% to blue, which it did not mean:\n%s", round, spec)
		}
	}
}

// TestShiftNGINX: in the NGINX canary mode shift edits the weight as in the
// Gateway mode, but a flip during a shift is refused (exit 3: the canary
// and the Services are separate objects, so one order of applying them
// sends the share back for a moment; promote --steps hands over instead),
// with nothing pushed; at weight 0 promote flips. In the middle of a
// hand-over (the Services flipped, the canary kept on the new color at
// 100%), everything is refused but promote --steps, which waits for the
// cluster to serve the flip before it ends it, and shift --weight 0 --force,
// which ends it in one object: the canary back to 0% on the new idle color.
func TestShiftNGINX(t *testing.T) {
	r := newTrafficRepoWith(t, "  traffic:\n    weight: 0\n    nginx: {}\n")
	r.mustRun(t, "shift", "--weight", "20")
	before := r.commits(t)
	if res := r.run(t, "promote"); res.code != 3 || !strings.Contains(res.stderr, "promote --steps 100 hands over") || r.commits(t) != before {
		t.Errorf("promote during an NGINX shift: exit %d, stderr %q", res.code, res.stderr)
	}
	r.mustRun(t, "shift", "--weight", "0")
	r.mustRun(t, "promote")

	// A hand-over as promote --steps leaves it when interrupted.
	r.handCommit(t, promote.SpecFile, "    weight: 0\n", "    weight: 100\n    canaryColor: green\n")
	before = r.commits(t)
	for _, args := range [][]string{
		{"rollback"}, {"promote", "--to", "blue"}, {"shift", "--weight", "50"},
		{"deploy", "--image", "myapp:v9"}, {"scale-idle", "--replicas", "0"},
		// Ending it needs the cluster to serve the flip first: promote
		// --steps waits for that; shift --weight 0 alone cannot know.
		{"shift", "--weight", "0"}, {"promote", "--to", "green"},
	} {
		if res := r.run(t, args...); res.code != 3 || !strings.Contains(res.stderr, "being handed over to green") {
			t.Errorf("%v during a hand-over: exit %d, stderr %q", args, res.code, res.stderr)
		}
	}
	if r.commits(t) != before {
		t.Fatal("a refused action committed")
	}
	r.mustRun(t, "shift", "--weight", "0", "--force")
	wantLines(t, r.lastDiff(t), "-    weight: 100", "-    canaryColor: green", "+    weight: 0")
	canary := r.file(t, "ingress-my-application-canary.yaml")
	if !strings.Contains(canary, `canary-weight: "0"`) || !strings.Contains(canary, "name: my-application-blue") || !strings.Contains(canary, "canary-by-header-value: blue") {
		t.Errorf("the canary after the hand-over:\n%s", canary)
	}
}
