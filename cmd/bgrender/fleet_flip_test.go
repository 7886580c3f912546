package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/forgetest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// fleetTargets are the example fleet's targets.
var fleetTargets = []string{"canary", "eu-west", "eu-central", "us-east"}

// fleetOnCluster serves a repository with the example fleet's four app
// folders, each in its own namespace of the test API server (standing in
// for its cluster: its context in the fleet's kubeconfig), and writes the
// fleet file with holds of a second. It returns the repository, the
// fleet file and the namespace of each target's folder.
func fleetOnCluster(t *testing.T, ctx context.Context, srv *kubetest.Server) (*gitopsRepo, string, map[string]string) {
	t.Helper()
	r, file := fleetRepo(t)
	namespaces := map[string]string{}
	clone := r.srv.Clone(t, r.name)
	for _, c := range fleetTargets {
		ns := srv.NewNamespace(t, ctx, "fleet-"+c, nil)
		namespaces["clusters/"+c+"/shop"] = ns
		dir := filepath.Join(clone, "clusters", c, "shop")
		setNamespace(t, dir, promote.SpecFile, ns)
		data, err := os.ReadFile(filepath.Join(dir, promote.SpecFile))
		if err != nil {
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
	gittest.Git(t, clone, "add", "-A")
	gittest.Git(t, clone, "commit", "--quiet", "-m", "each cluster's shop in its own namespace")
	gittest.Git(t, clone, "push", "--quiet", "origin", "HEAD:main")

	// One context per target, all on the test API server.
	cfg, err := clientcmd.Load(srv.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fleetTargets {
		ctxCopy := *cfg.Contexts[cfg.CurrentContext]
		cfg.Contexts[c] = &ctxCopy
	}
	if err := clientcmd.WriteToFile(*cfg, filepath.Join(filepath.Dir(file), "clusters.yaml")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("hold: 10m", "hold: 1s\n      interval: 1s", "hold: 15m", "hold: 1s\n      interval: 1s").Replace(string(data))
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return r, file, namespaces
}

// fleetAgent plays, until ctx ends, each target cluster's GitOps agent
// and controllers on the one API server: whenever main moves, it applies
// each app folder to its namespace, writes both Deployments' status
// rolled out (the deployment controller), and gives the live Service
// ready endpoints of the color it selects (the EndpointSlice
// controller). Its first round is done when it returns, so the clusters
// run what main holds; it returns a function that waits until the agent
// stopped and reports its error.
func fleetAgent(t *testing.T, ctx context.Context, srv *kubetest.Server, r *gitopsRepo, namespaces map[string]string) func() {
	t.Helper()
	bare := r.srv.RepoDir(r.name)
	head, err := exec.CommandContext(ctx, "git", "--git-dir", bare, "rev-parse", "refs/heads/main").Output()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	if err := agentRound(ctx, srv, bare, namespaces, served); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed error
	wg.Add(1)
	go func() {
		defer wg.Done()
		applied := string(head)
		for ctx.Err() == nil {
			head, err := exec.CommandContext(ctx, "git", "--git-dir", bare, "rev-parse", "refs/heads/main").Output()
			if err == nil && string(head) != applied {
				if err = agentRound(ctx, srv, bare, namespaces, served); err == nil {
					applied = string(head)
				}
			}
			if err != nil && ctx.Err() == nil {
				failed = err
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() {
		wg.Wait()
		if failed != nil {
			t.Errorf("the agent: %v", failed)
		}
	}
}

// agentRound applies main's folders once (see fleetAgent); served holds
// the color each namespace's endpoints are of.
func agentRound(ctx context.Context, srv *kubetest.Server, bare string, namespaces, served map[string]string) error {
	dir, err := os.MkdirTemp("", "fleet-agent-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", bare, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v: %s", err, out)
	}
	for path, ns := range namespaces {
		if err := applyDir(ctx, srv, filepath.Join(dir, filepath.FromSlash(path)), ns); err != nil {
			return err
		}
		for _, c := range []string{"blue", "green"} {
			if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "shop-"+c, apptest.RolledOut); err != nil {
				return err
			}
		}
		u, err := srv.Dynamic().Resource(live.Services).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			return err
		}
		color, _, _ := unstructured.NestedString(u.Object, "spec", "selector", "version")
		if color == served[ns] {
			continue
		}
		if err := serveOnly(ctx, srv, ns, spec.Color(color), len(served)); err != nil {
			return err
		}
		served[ns] = color
	}
	return nil
}

// serveOnly replaces the Service shop's endpoints with two ready pods of
// color c (gen names the pods apart from earlier rounds').
func serveOnly(ctx context.Context, srv *kubetest.Server, ns string, c spec.Color, gen int) error {
	err := srv.Dynamic().Resource(apptest.EndpointSlices).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=shop"})
	if err != nil {
		return err
	}
	app, err := apptest.Spec("shop", ns, 2, "  colorLabel: version", "  selectorLabels: {app: shop}")
	if err != nil {
		return err
	}
	var eps []apptest.Endpoint
	for i := range 2 {
		eps = append(eps, apptest.Endpoint{Pod: fmt.Sprintf("shop-%s-%d-%d", c, time.Now().UnixNano(), i), IP: fmt.Sprintf("10.0.%d.%d", gen%250, i+1), Ready: true})
	}
	return apptest.CreateEndpoints(ctx, srv.Dynamic(), app, "shop", c, 8080, eps...)
}

// fleetLive returns the color each target's live Service selects, and
// each folder's image of that color in Git, as "color image".
func fleetLive(t *testing.T, r *gitopsRepo) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range fleetTargets {
		apps, err := spec.Load(promote.SpecFile, []byte(r.git(t, "show", "main:clusters/"+c+"/shop/"+promote.SpecFile)))
		if err != nil {
			t.Fatal(err)
		}
		a := apps[0].Spec
		out[c] = string(a.Active) + " " + a.ColorSpecOf(a.Active).Image
	}
	return out
}

// subjects are the subjects of main's commits after the first n.
func subjects(t *testing.T, r *gitopsRepo, n int) []string {
	t.Helper()
	all := strings.Split(strings.TrimSpace(r.git(t, "log", "--reverse", "--format=%s", "main")), "\n")
	return all[n:]
}

// TestFleetPromoteRollback runs promote --fleet and rollback --fleet on
// a real API server (a namespace per target standing in for its
// cluster, an agent applying each commit) and a real Git server.
// promote --fleet flips shop:v2, deployed to every target, wave by wave:
// the gates on each target's cluster, one commit per wave (europe's two
// targets in one), a wait until each cluster serves it, the hold. A
// re-run does nothing. rollback --fleet flips every target back, the last
// wave first, one commit per wave; its re-run does nothing either. Then
// shop:v3 deployed to the canary alone: promote --fleet flips the canary
// and refuses europe, which has nothing deployed to flip to: exit 3, the
// table, nothing committed for europe or rest.
func TestFleetPromoteRollback(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, file, namespaces := fleetOnCluster(t, ctx, srv)
	agentCtx, stopAgent := context.WithCancel(ctx)
	wait := fleetAgent(t, agentCtx, srv, r, namespaces)
	defer func() { stopAgent(); wait() }()
	for _, c := range fleetTargets {
		if res := runCLI(t, "", "deploy", "--repo", r.url, "--path", "clusters/"+c+"/shop", "--image", "shop:v2"); res.code != 0 {
			t.Fatalf("deploy to %s: exit %d\n%s", c, res.code, res.stderr)
		}
	}
	before := r.commits(t)

	res := runCLI(t, "", "promote", "--fleet", file, "--live-timeout", "1m")
	if res.code != 0 {
		t.Fatalf("promote --fleet: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatal("the token was printed")
	}
	wantSubjects(t, subjects(t, r, before), "promote fleet shop, wave canary: canary", "promote fleet shop, wave europe: eu-west, eu-central", "promote fleet shop, wave rest: us-east")
	for c, got := range fleetLive(t, r) {
		if got != "green shop:v2" {
			t.Errorf("%s after promote --fleet: %s, want green shop:v2", c, got)
		}
	}
	wantTable(t, res.stdout, map[string]string{"canary": "green shop:v2 released", "eu-west": "green shop:v2 released", "eu-central": "green shop:v2 released", "us-east": "green shop:v2 released"})
	for _, want := range []string{"wave 1 canary held for 1s", "wave 2 europe held for 1s", "live: Service " + namespaces["clusters/us-east/shop"] + "/shop serves green"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}

	flipped := r.commits(t)
	res = runCLI(t, "", "promote", "--fleet", file)
	if res.code != 0 || r.commits(t) != flipped || !strings.Contains(res.stderr, "wave 3 rest: every target runs shop:v2 live already") {
		t.Fatalf("the re-run: exit %d, %d new commits\n%s", res.code, r.commits(t)-flipped, res.stderr)
	}

	res = runCLI(t, "", "rollback", "--fleet", file, "--live-timeout", "1m", "-o", "json")
	var rep fleet.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); res.code != 0 || err != nil {
		t.Fatalf("rollback --fleet: exit %d, %v\n%s\n%s", res.code, err, res.stdout, res.stderr)
	}
	for i, w := range rep.Waves { // the last wave first, a commit each
		if want := []string{"rest", "europe", "canary"}[i]; w.Wave != want || len(w.Steps) != 1 || len(w.Steps[0].Commits) != 1 || w.Steps[0].Commits[0].Commit == "" {
			t.Errorf("wave %d of the report: %+v, want %s with one commit", i, w, want)
		}
	}
	for _, tr := range rep.Targets {
		if tr.Live != "blue" || tr.State != "rolled back" {
			t.Errorf("report: %+v", tr)
		}
	}
	wantSubjects(t, subjects(t, r, flipped), "rollback fleet shop, wave rest: us-east", "rollback fleet shop, wave europe: eu-west, eu-central", "rollback fleet shop, wave canary: canary")
	for c, got := range fleetLive(t, r) {
		if got != "blue myapp:v1.2.3" {
			t.Errorf("%s after rollback --fleet: %s, want blue myapp:v1.2.3", c, got)
		}
	}
	back := r.commits(t)
	res = runCLI(t, "", "rollback", "--fleet", file)
	if res.code != 0 || r.commits(t) != back || !strings.Contains(res.stderr, "wave 1 canary: nothing to roll back") {
		t.Fatalf("the rollback's re-run: exit %d, %d new commits\n%s", res.code, r.commits(t)-back, res.stderr)
	}

	// shop:v3 to the canary alone: europe has nothing to flip to.
	if res := runCLI(t, "", "deploy", "--repo", r.url, "--path", "clusters/canary/shop", "--image", "shop:v3"); res.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.code, res.stderr)
	}
	deployed := r.commits(t)
	res = runCLI(t, "", "promote", "--fleet", file, "--live-timeout", "1m")
	if res.code != exitcode.Refused || !strings.Contains(res.stderr, "wave europe: refused: eu-west: nothing deployed to flip to: its idle color green runs shop:v2, as when it was last live (deploy shop:v3 first)") {
		t.Fatalf("promote --fleet with nothing deployed to europe: exit %d\n%s", res.code, res.stderr)
	}
	wantSubjects(t, subjects(t, r, deployed), "promote fleet shop, wave canary: canary")
	wantTable(t, res.stdout, map[string]string{"canary": "green shop:v3 released", "eu-west": "blue myapp:v1.2.3 refused", "us-east": "blue myapp:v1.2.3 refused"})
}

func wantSubjects(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// wantTable checks rows of the fleet's table, which ends stdout after
// each commit's line: a target's LIVE, IMAGE and STATE.
func wantTable(t *testing.T, table string, want map[string]string) {
	t.Helper()
	at := strings.Index(table, "WAVE ")
	lines := strings.Split(strings.TrimSpace(table[max(at, 0):]), "\n")
	if at < 0 || len(lines) != len(fleetTargets)+1 {
		t.Fatalf("want a header and %d rows:\n%s", len(fleetTargets), table)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if w, ok := want[f[1]]; ok && strings.Join(f[4:], " ") != w {
			t.Errorf("%s: %q, want %q", f[1], strings.Join(f[4:], " "), w)
		}
	}
}

// TestFleetPullRequest: promote --fleet --pull-request --wait-merge
// opens one pull request per wave (europe's two targets in one), on a
// branch named after the fleet and the wave, waits until it is merged
// (the fake GitHub merges it when asked, fast-forwarding main), then
// waits until each cluster serves it, and only then opens the next
// wave's.
func TestFleetPullRequest(t *testing.T) {
	const apiToken = "api-token-fleet"
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, file, namespaces := fleetOnCluster(t, ctx, srv)
	old := r.url
	r.moveUnder(t, "acme")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, r.url, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range fleetTargets {
		if res := runCLI(t, "", "deploy", "--repo", r.url, "--path", "clusters/"+c+"/shop", "--image", "shop:v2"); res.code != 0 {
			t.Fatalf("deploy to %s: exit %d\n%s", c, res.code, res.stderr)
		}
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	wait := fleetAgent(t, agentCtx, srv, r, namespaces)
	defer func() { stopAgent(); wait() }()

	fake := forgetest.GitHub(t, "acme", "gitops", apiToken)
	t.Setenv("BGRENDER_FORGE_TOKEN", apiToken)
	bare := r.srv.RepoDir(r.name)
	var merged []string
	fake.OnGet = func(p *forgetest.Pull) { // a reviewer merges it
		if p.State != "open" {
			return
		}
		if out, err := exec.Command("git", "--git-dir", bare, "update-ref", "refs/heads/main", "refs/heads/"+p.Head).CombinedOutput(); err != nil {
			t.Errorf("merge %s: %v: %s", p.Head, err, out)
			return
		}
		p.State = "merged"
		merged = append(merged, p.Head)
	}
	before := r.commits(t)
	res := runCLI(t, "", "promote", "--fleet", file, "--pull-request", "--wait-merge", "--poll-interval", "50ms",
		"--forge", "github", "--forge-api", fake.URL, "--live-timeout", "1m")
	if res.code != 0 {
		t.Fatalf("promote --fleet --pull-request: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, apiToken) || strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatal("a token was printed")
	}
	want := "bgrender/promote-fleet-shop-canary-green, bgrender/promote-fleet-shop-europe-green, bgrender/promote-fleet-shop-rest-green"
	if got := strings.Join(merged, ", "); got != want {
		t.Errorf("merged %s, want %s", got, want)
	}
	if pulls := fake.Pulls(); len(pulls) != 3 || !strings.Contains(pulls[1].Title, "promote shop, shop") {
		t.Errorf("pull requests: %+v", pulls)
	}
	wantSubjects(t, subjects(t, r, before), "promote fleet shop, wave canary: canary", "promote fleet shop, wave europe: eu-west, eu-central", "promote fleet shop, wave rest: us-east")
	for c, got := range fleetLive(t, r) {
		if got != "green shop:v2" {
			t.Errorf("%s: %s, want green shop:v2", c, got)
		}
	}
	if res := runCLI(t, "", "promote", "--fleet", file, "--pull-request"); res.code != 2 || !strings.Contains(res.stderr, "needs --wait-merge") {
		t.Errorf("--pull-request without --wait-merge: exit %d\n%s", res.code, res.stderr)
	}
}

// TestFleetPromoteBreach: a breach during a promote's hold reacts as the
// wave's onBreach says, as in a release. europe (rollback-all) loses
// eu-central's availability during its hold: canary and europe go back
// in one commit naming the breach, rest is untouched, exit 3 and the
// table.
func TestFleetPromoteBreach(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, file, namespaces := fleetOnCluster(t, ctx, srv)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// europe's hold: long enough for the breach to be seen.
	doc := strings.Replace(string(data), "maxParallel: 2\n      hold: 1s", "maxParallel: 2\n      hold: 30s", 1)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range fleetTargets {
		if res := runCLI(t, "", "deploy", "--repo", r.url, "--path", "clusters/"+c+"/shop", "--image", "shop:v2"); res.code != 0 {
			t.Fatalf("deploy to %s: exit %d\n%s", c, res.code, res.stderr)
		}
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	wait := fleetAgent(t, agentCtx, srv, r, namespaces)
	defer func() { stopAgent(); wait() }()

	// Once eu-central serves green, its pods stop being available.
	ns := namespaces["clusters/eu-central/shop"]
	breached := make(chan error, 2)
	go func() {
		defer func() { breached <- ctx.Err() }() // unless it breached first
		for ctx.Err() == nil {
			u, err := srv.Dynamic().Resource(live.Services).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
			if err == nil {
				if c, _, _ := unstructured.NestedString(u.Object, "spec", "selector", "version"); c == "green" {
					time.Sleep(time.Second) // the agent's round ends
					breached <- apptest.SetStatus(ctx, srv.Dynamic(), ns, "shop-green", func(d *appsv1.Deployment) {
						apptest.RolledOut(d)
						d.Status.AvailableReplicas, d.Status.ReadyReplicas = 0, 0
						d.Status.Conditions[0].Status = corev1.ConditionFalse
					})
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	before := r.commits(t)
	res := runCLI(t, "", "promote", "--fleet", file, "--live-timeout", "1m")
	select {
	case err := <-breached:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no breach: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res.code != exitcode.Refused || !strings.Contains(res.stderr, "wave europe: breach: readiness on eu-central (eu-central): deployment "+ns+"/shop-green has lost its minimum availability") ||
		!strings.Contains(res.stderr, "rolled back canary, eu-west, eu-central") {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	wantSubjects(t, subjects(t, r, before), "promote fleet shop, wave canary: canary", "promote fleet shop, wave europe: eu-west, eu-central",
		"rollback fleet shop, wave europe: canary, eu-west, eu-central")
	wantTable(t, res.stdout, map[string]string{"canary": "blue myapp:v1.2.3 rolled back", "eu-west": "blue myapp:v1.2.3 rolled back",
		"eu-central": "blue myapp:v1.2.3 rolled back", "us-east": "blue myapp:v1.2.3 deployed"})
}
