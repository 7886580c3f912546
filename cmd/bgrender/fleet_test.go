package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// fleetKubeconfig names the example fleet's four contexts; their server
// is never contacted by the tests here.
const fleetKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {}
contexts:
- {name: canary, context: {cluster: nowhere, user: u}}
- {name: eu-west, context: {cluster: nowhere, user: u}}
- {name: eu-central, context: {cluster: nowhere, user: u}}
- {name: us-east, context: {cluster: nowhere, user: u}}
`

// fleetRepo serves a repository with the four app folders of the example
// fleet and writes the fleet file, pointed at it, with its kubeconfig; it
// returns the repository and the fleet file.
func fleetRepo(t *testing.T) (*gitopsRepo, string) {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	for _, c := range []string{"canary", "eu-west", "eu-central", "us-east"} {
		writeManaged(t, filepath.Join(seed, "clusters", c, "shop"), "shop")
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	r := &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
	data, err := os.ReadFile("../../examples/fleet/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "https://git.example.com/platform/gitops.git", r.url, 1)
	doc = strings.Replace(doc, "  targets:\n", "  kubeconfig: clusters.yaml\n  targets:\n", 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.yaml")
	for name, text := range map[string]string{file: doc, filepath.Join(dir, "clusters.yaml"): fleetKubeconfig} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r, file
}

// TestFleetDryRun: release --fleet --dry-run prints the plan — the
// waves, each target and where Git has it, one commit per step for the
// targets of a wave that share the repository, the gates each reads, the
// hold — from Git alone, and pushes nothing. A wave with maxParallel
// moves in batches of that many targets. It resumes from Git: a wave
// whose targets run the image live has nothing to do (and is held again
// before the next wave), a target whose idle color runs it resumes with
// its gates.
func TestFleetDryRun(t *testing.T) {
	r, file := fleetRepo(t)
	// An earlier run released the canary wave and deployed to eu-west.
	for _, args := range [][]string{
		{"deploy", "--image", "shop:v2", "--path", "clusters/canary/shop"},
		{"promote", "--path", "clusters/canary/shop"},
		{"deploy", "--image", "shop:v2", "--path", "clusters/eu-west/shop"},
	} {
		if res := runCLI(t, "", append(args, "--repo", r.url)...); res.code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], res.code, res.stderr)
		}
	}
	// Europe one target at a time: two batches, a commit per step each.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "maxParallel: 2", "maxParallel: 1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	pushes := r.srv.Pushes()
	res := runCLI(t, "", "release", "--fleet", file, "--image", "shop:v2", "--dry-run")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if r.srv.Pushes() != pushes {
		t.Error("the dry run pushed")
	}
	if strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatal("the token was printed")
	}
	golden(t, "fleet-dry-run.txt", []byte(strings.ReplaceAll(res.stdout, r.url, "REPO")))

	// -o json: the same plan as a report, every step planned.
	res = runCLI(t, "", "release", "--fleet", file, "--image", "shop:v2", "--dry-run", "-o", "json")
	var rep fleet.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); res.code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v\n%s\n%s", res.code, err, res.stdout, res.stderr)
	}
	if len(rep.Targets) != 4 || rep.Targets[1].State != "deployed" || len(rep.Waves) != 3 || len(rep.Waves[0].Steps) != 0 ||
		len(rep.Waves[1].Steps) != 2 || len(rep.Waves[2].Steps[0].Plan) != 4 || rep.Waves[2].Steps[0].Plan[0].Status != "planned" {
		t.Errorf("report: %+v", rep)
	}
}

// TestFleetBadInput: a bad fleet file, or a flag that names one app
// folder, is exit 2 with the file, line and field, nothing on stdout and
// nothing pushed.
func TestFleetBadInput(t *testing.T) {
	r, file := fleetRepo(t)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		from, to string
		args     []string
		want     string
	}{
		"a target in two waves": {"targets: [us-east]", "targets: [us-east, canary]", nil,
			"fleet.yaml:38: spec.waves[2].targets[1]: target \"canary\" is in two waves: canary and rest"},
		"an unknown context": {"context: us-east", "context: us-west", nil,
			"fleet.yaml:26: spec.targets[3].context: context \"us-west\" does not exist in the kubeconfig"},
		"an empty wave": {"targets: [us-east]", "targets: []", nil, "fleet.yaml:37: spec.waves[2]: an empty wave"},
		"a duplicate key": {"      hold: 10m\n", "      hold: 10m\n      hold: 5m\n", nil,
			"fleet.yaml:32: spec.waves[0].hold: duplicate key (first defined on line 31)"},
		"--path with --fleet": {"", "", []string{"--path", "apps/shop"}, "--path names one app folder or cluster"},
		"no --image":          {"", "", []string{"--image", ""}, "--image is required"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(file, []byte(strings.Replace(string(data), tc.from, tc.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"release", "--fleet", file, "--image", "shop:v2"}, tc.args...)
			res := runCLI(t, "", args...)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q\n%s\nwant %s", res.code, res.stdout, res.stderr, tc.want)
			}
			if r.srv.Pushes() != 0 {
				t.Error("pushed")
			}
		})
	}
}

// TestFleetStatusUnreachable: status --fleet reads every target; one
// whose cluster does not answer is a row that says so, the table is
// written whole, and the exit code is 1. A bad fleet file is exit 2 with
// nothing on stdout.
func TestFleetStatusUnreachable(t *testing.T) {
	_, file := fleetRepo(t)
	res := runCLI(t, "", "status", "--fleet", file, "--request-timeout", "2s", "--parallel", "2")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "WAVE") {
		t.Fatalf("want a header and 4 rows:\n%s", res.stdout)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "unreadable:") {
			t.Errorf("row %q does not say the cluster could not be read", l)
		}
	}
	if !strings.Contains(res.stderr, "could not read canary, eu-west, eu-central, us-east") {
		t.Errorf("stderr: %s", res.stderr)
	}
	res = runCLI(t, "", "status", "--fleet", file, "my-application")
	if res.code != 2 || res.stdout != "" {
		t.Errorf("status --fleet with an app: exit %d, stdout %q", res.code, res.stdout)
	}
}

// fleetState brings the example fleet's folders to where a promote has
// gone part of the way: shop:v2 deployed to canary, eu-west and
// eu-central, canary and eu-west flipped to it, nothing deployed to
// us-east.
func fleetState(t *testing.T, r *gitopsRepo) {
	t.Helper()
	for _, args := range [][]string{
		{"deploy", "--image", "shop:v2", "--path", "clusters/canary/shop"},
		{"promote", "--path", "clusters/canary/shop"},
		{"deploy", "--image", "shop:v2", "--path", "clusters/eu-west/shop"},
		{"promote", "--path", "clusters/eu-west/shop"},
		{"deploy", "--image", "shop:v2", "--path", "clusters/eu-central/shop"},
	} {
		if res := runCLI(t, "", append(args, "--repo", r.url)...); res.code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], res.code, res.stderr)
		}
	}
}

// TestFleetFlipDryRun: promote --fleet and rollback --fleet --dry-run
// print their plans from Git alone and push nothing. The promote flips
// the image deployed to the idle colors (shop:v2): canary and eu-west
// are flipped already (canary's wave is held again first), eu-central
// flips, and us-east, with nothing deployed, refuses its wave. The
// rollback goes the other way, the last wave first: us-east and
// eu-central, which no promote moved, are unchanged; eu-west and canary
// go back. --wave rolls back one wave.
func TestFleetFlipDryRun(t *testing.T) {
	r, file := fleetRepo(t)
	fleetState(t, r)
	pushes := r.srv.Pushes()
	for golden_, args := range map[string][]string{
		"fleet-promote-dry-run.txt":       {"promote", "--fleet", file, "--dry-run"},
		"fleet-rollback-dry-run.txt":      {"rollback", "--fleet", file, "--dry-run"},
		"fleet-rollback-wave-dry-run.txt": {"rollback", "--fleet", file, "--wave", "europe", "--dry-run"},
	} {
		res := runCLI(t, "", args...)
		if res.code != 0 {
			t.Fatalf("%s: exit %d\n%s", golden_, res.code, res.stderr)
		}
		if strings.Contains(res.stdout+res.stderr, gitToken) {
			t.Fatal("the token was printed")
		}
		golden(t, golden_, []byte(strings.ReplaceAll(res.stdout, r.url, "REPO")))
	}

	// -o json: the same plan, for tools.
	res := runCLI(t, "", "promote", "--fleet", file, "--dry-run", "-o", "json")
	var rep fleet.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); res.code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v\n%s\n%s", res.code, err, res.stdout, res.stderr)
	}
	var states []string
	for _, tr := range rep.Targets {
		states = append(states, tr.Target+" "+tr.Live+" "+tr.Image+" "+tr.State)
	}
	if want := "canary green shop:v2 released, eu-west green shop:v2 released, eu-central blue myapp:v1.2.3 deployed, us-east blue myapp:v1.2.3 refused"; strings.Join(states, ", ") != want ||
		rep.Action != "promote" || rep.Image != "shop:v2" || !rep.DryRun || len(rep.Waves) != 3 {
		t.Errorf("report: %s\n%+v", strings.Join(states, ", "), rep)
	}
	if w := rep.Waves[1]; len(w.Steps) != 1 || strings.Join(w.Steps[0].Targets, ",") != "eu-central" || len(w.Steps[0].Plan) != 3 || w.Steps[0].Plan[1].Status != "planned" {
		t.Errorf("europe's steps: %+v", w.Steps)
	}
	if w := rep.Waves[2]; strings.Join(w.Refused, ",") != "us-east" || len(w.Steps) != 0 {
		t.Errorf("rest: %+v", w)
	}
	if r.srv.Pushes() != pushes {
		t.Error("a dry run pushed")
	}
}

// TestFleetFlipBadInput: promote --fleet and rollback --fleet refuse,
// exit 2 with nothing on stdout and nothing pushed, the flags that name
// one app or that they do not take, a positional app, an unknown wave.
func TestFleetFlipBadInput(t *testing.T) {
	r, file := fleetRepo(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"promote with an app":      {[]string{"promote", "--fleet", file, "shop"}, "unexpected arguments"},
		"promote --image":          {[]string{"promote", "--fleet", file, "--image", "shop:v2"}, "unknown flag: --image"},
		"promote --path":           {[]string{"promote", "--fleet", file, "--path", "apps/shop"}, "--path names one app folder or cluster"},
		"promote --to":             {[]string{"promote", "--fleet", file, "--to", "green"}, "--to names one app's color: not with --fleet"},
		"promote --steps":          {[]string{"promote", "--fleet", file, "--steps", "50,100"}, "--steps shifts one app's traffic: not with --fleet"},
		"promote --pull-request":   {[]string{"promote", "--fleet", file, "--pull-request"}, "--fleet with --pull-request needs --wait-merge"},
		"promote -o yaml":          {[]string{"promote", "--fleet", file, "-o", "yaml"}, "--output \"yaml\": expected text or json"},
		"rollback with an app":     {[]string{"rollback", "--fleet", file, "shop"}, "unexpected arguments"},
		"rollback --context":       {[]string{"rollback", "--fleet", file, "--context", "canary"}, "--context names one app folder or cluster"},
		"rollback --force":         {[]string{"rollback", "--fleet", file, "--force"}, "--force rolls one app back past its refusals: not with --fleet"},
		"rollback an unknown wave": {[]string{"rollback", "--fleet", file, "--wave", "asia", "--dry-run"}, "--wave asia: the fleet " + file + " has no wave asia (its waves: canary, europe, rest)"},
		"rollback --wave alone":    {[]string{"rollback", "--repo", r.url, "--path", "clusters/canary/shop", "--wave", "canary"}, "--wave names a wave of a fleet file: it needs --fleet"},
		"rollback a missing file":  {[]string{"rollback", "--fleet", file + ".missing"}, "--fleet " + file + ".missing"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runCLI(t, "", tc.args...)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q\n%s\nwant %s", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
	if r.srv.Pushes() != 0 {
		t.Error("pushed")
	}
}
