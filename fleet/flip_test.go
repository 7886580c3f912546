package fleet_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// exampleFleet serves a repository holding the example fleet's four app
// folders (the seed app as shop, blue live on myapp:v1.2.3) and returns
// the fleet, pointed at it, and the planners' options (a dry run: no
// cluster is read).
func exampleFleet(t *testing.T) (*fleet.Fleet, fleet.Options) {
	t.Helper()
	srv := gittest.NewServer(t)
	seed := t.TempDir()
	data, err := os.ReadFile("../examples/seed/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "my-application", "shop"))
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"canary", "eu-west", "eu-central", "us-east"} {
		dir := filepath.Join(seed, "clusters", c, "shop")
		if err := render.WriteDir(dir, render.Render(apps)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, promote.SpecFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	url := srv.CreateRepo(t, "gitops", seed)
	doc, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load("fleet.yaml", []byte(strings.Replace(string(doc), "https://git.example.com/platform/gitops.git", url, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return f, fleet.Options{
		Fleet: f,
		Open: func(repo, branch, path string) (*promote.Target, error) {
			r, err := gitops.OpenRepo(repo, gitops.RepoOptions{})
			if err != nil {
				return nil, err
			}
			return &promote.Target{Repo: r, Branch: branch, Path: path, DryRun: true}, nil
		},
		Gates: func(opts *cluster.Options) *release.Gates {
			// The gate flags' defaults, none set.
			checks := &gate.Checks{Timeout: 5 * time.Minute, HealthAttempts: 5, WarmRequests: 1, Measurements: 1, MeasurementInterval: 30 * time.Second, Window: time.Minute}
			return &release.Gates{Cluster: opts, Checks: checks, NoCluster: true, TimeoutFlag: "rollout-timeout", Changed: func(string) bool { return false }}
		},
	}
}

// act commits single-target actions to the fleet's folders: "deploy
// IMAGE", "promote" or "rollback" on a target.
func act(t *testing.T, f *fleet.Fleet, target, action string) {
	t.Helper()
	r, err := gitops.OpenRepo(f.Spec.Repo, gitops.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tg := promote.Target{Repo: r, Path: "clusters/" + target + "/shop"}
	var a interface {
		Run(context.Context) (*promote.Result, error)
	}
	switch verb, image, _ := strings.Cut(action, " "); verb {
	case "deploy":
		a = &promote.Deploy{Target: tg, Image: image}
	case "promote":
		a = &promote.Promote{Target: tg}
	case "rollback":
		a = &promote.Rollback{Target: tg}
	}
	if _, err := a.Run(context.Background()); err != nil {
		t.Fatalf("%s %s: %v", action, target, err)
	}
}

// phases are the plan's targets as "name: phase", in the order of its
// waves, and its steps per wave.
func phases(p *fleet.Plan) (string, []string) {
	var ms, steps []string
	for _, wp := range p.Waves {
		n := 0
		for _, m := range wp.Members {
			ms = append(ms, m.Target.Name+": "+m.Phase)
		}
		for _, s := range wp.Steps {
			n += len(s.Plan.Entries)
		}
		steps = append(steps, wp.Wave.Name+" "+strings.Repeat("*", n))
	}
	return strings.Join(ms, ", "), steps
}

// TestPlanPromote: a fleet's promote flips the image deployed to the
// idle colors (the first wave's), and reads from each folder's history
// where a target is: flipped already, to flip, or with nothing deployed
// to flip to (refused), whether its idle color runs the old image or one
// the first wave's is not.
func TestPlanPromote(t *testing.T) {
	for name, tc := range map[string]struct {
		actions []string // target: action
		image   string
		phases  string
		refused map[string]string // wave: refused targets
	}{
		"nothing deployed: nothing to do": {nil, "myapp:v1.2.3",
			"canary: released, eu-west: released, eu-central: released, us-east: released", nil},
		"everything deployed": {[]string{"canary: deploy shop:v2", "eu-west: deploy shop:v2", "eu-central: deploy shop:v2", "us-east: deploy shop:v2"}, "shop:v2",
			"canary: deployed, eu-west: deployed, eu-central: deployed, us-east: deployed", nil},
		"part of the way, us-east not deployed": {[]string{"canary: deploy shop:v2", "canary: promote", "eu-west: deploy shop:v2", "eu-west: promote", "eu-central: deploy shop:v2"}, "shop:v2",
			"canary: released, eu-west: released, eu-central: deployed, us-east: refused", map[string]string{"rest": "us-east"}},
		"every wave flipped: a re-run does nothing": {[]string{"canary: deploy shop:v2", "canary: promote", "eu-west: deploy shop:v2", "eu-west: promote", "eu-central: deploy shop:v2", "eu-central: promote", "us-east: deploy shop:v2", "us-east: promote"}, "shop:v2",
			"canary: released, eu-west: released, eu-central: released, us-east: released", nil},
		"another image in europe": {[]string{"canary: deploy shop:v2", "eu-west: deploy shop:v3", "eu-central: deploy shop:v2", "us-east: deploy shop:v2"}, "shop:v2",
			"canary: deployed, eu-west: refused, eu-central: deployed, us-east: deployed", map[string]string{"europe": "eu-west"}},
		"rolled back: nothing new to flip to": {[]string{"canary: deploy shop:v2", "canary: promote", "canary: rollback", "eu-west: deploy shop:v2"}, "shop:v2",
			"canary: refused, eu-west: deployed, eu-central: refused, us-east: refused", map[string]string{"canary": "canary", "europe": "eu-central", "rest": "us-east"}},
	} {
		t.Run(name, func(t *testing.T) {
			f, o := exampleFleet(t)
			for _, a := range tc.actions {
				target, action, _ := strings.Cut(a, ": ")
				act(t, f, target, action)
			}
			p, err := fleet.PlanPromote(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := phases(p)
			if p.Image != tc.image || got != tc.phases {
				t.Errorf("image %s, %s\nwant image %s, %s", p.Image, got, tc.image, tc.phases)
			}
			for _, wp := range p.Waves {
				var refused []string
				for _, m := range wp.Refused {
					refused = append(refused, m.Target.Name)
					if m.Why == "" {
						t.Errorf("%s is refused without a reason", m.Target.Name)
					}
				}
				if strings.Join(refused, ", ") != tc.refused[wp.Wave.Name] {
					t.Errorf("wave %s refused by %v, want %q", wp.Wave.Name, refused, tc.refused[wp.Wave.Name])
				}
				if wp.Done() != (len(wp.Steps) == 0 && len(refused) == 0) {
					t.Errorf("wave %s: done %v with %d steps", wp.Wave.Name, wp.Done(), len(wp.Steps))
				}
			}
			// Every step flips; none deploys.
			for _, wp := range p.Waves {
				for _, s := range wp.Steps {
					for _, e := range s.Plan.Entries {
						if strings.HasPrefix(e.Step.Describe(), "deploy ") {
							t.Errorf("wave %s deploys: %s", wp.Wave.Name, e.Step.Describe())
						}
					}
				}
			}
		})
	}
}

// TestPlanRollback: a fleet's rollback moves the last wave first, rolls
// back the targets a promote made live, and leaves alone those a
// rollback made live already and those the release did not reach (their
// idle color runs an image deployed since, or no promote ever flipped
// them). --wave plans one wave.
func TestPlanRollback(t *testing.T) {
	f, o := exampleFleet(t)
	for _, a := range []string{"canary: deploy shop:v2", "canary: promote", "eu-west: deploy shop:v2", "eu-west: promote", "eu-central: deploy shop:v2", "us-east: deploy shop:v2", "us-east: promote", "us-east: rollback"} {
		target, action, _ := strings.Cut(a, ": ")
		act(t, f, target, action)
	}
	p, err := fleet.PlanRollback(context.Background(), o, "")
	if err != nil {
		t.Fatal(err)
	}
	got, steps := phases(p)
	if want := "us-east: rolled back, eu-west: released, eu-central: unchanged, canary: released"; got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
	// rest has nothing to do; europe and canary a commit and a wait each.
	if want := "rest , europe **, canary **"; strings.Join(steps, ", ") != want {
		t.Errorf("steps %q, want %q", strings.Join(steps, ", "), want)
	}
	if s := p.Waves[1].Steps[0].Plan.Entries[0].Step.Describe(); s != "roll back eu-west in one commit" {
		t.Errorf("europe's commit: %s", s)
	}

	p, err = fleet.PlanRollback(context.Background(), o, "canary")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := phases(p); got != "canary: released" {
		t.Errorf("--wave canary: %s", got)
	}
	if _, err := fleet.PlanRollback(context.Background(), o, "asia"); err == nil || !strings.Contains(err.Error(), "no wave asia (its waves: canary, europe, rest)") {
		t.Errorf("an unknown wave: %v", err)
	}
}

// TestPlanReleaseResumes: a release that resumes a wave whose deploy is
// in Git (a run killed after its push) asks each target's agent to
// reconcile again before the gates: the killed run may have died before
// it asked, and the agent would then apply the deploy only at its next
// poll.
func TestPlanReleaseResumes(t *testing.T) {
	f, o := exampleFleet(t)
	for i := range f.Spec.Targets {
		f.Spec.Targets[i].Reconcile = []string{"kustomization/flux-system/" + f.Spec.Targets[i].Name}
	}
	for _, target := range []string{"canary", "eu-west", "eu-central"} {
		act(t, f, target, "deploy myapp:v2")
	}
	act(t, f, "canary", "promote")
	o.Image = "myapp:v2"
	p, err := fleet.PlanRelease(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	kinds := func(wave string) string {
		var ks []string
		for _, wp := range p.Waves {
			if wp.Wave.Name != wave {
				continue
			}
			for _, s := range wp.Steps {
				for _, e := range s.Plan.Entries {
					ks = append(ks, e.Step.Kind())
				}
			}
		}
		return strings.Join(ks, ",")
	}
	for wave, want := range map[string]string{
		"canary": "",                                       // released: held again only
		"europe": "reconcile,gates,gates,commit,reconcile", // deployed: asked again, then the gates
		"rest":   "commit,reconcile,gates,commit,reconcile",
	} {
		if got := kinds(wave); !strings.HasPrefix(got, want) || (want == "" && got != "") {
			t.Errorf("wave %s: steps %s, want %s…", wave, got, want)
		}
	}
}
