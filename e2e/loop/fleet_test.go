package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

// fleetTargets are the story's targets, in wave order: canary, then
// eu-west and eu-central together, then us-east.
var fleetTargets = []string{"canary", "eu-west", "eu-central", "us-east"}

// fleetOnPeer are the targets on the peer cluster; the others are on the
// bed.
var fleetOnPeer = map[string]bool{"canary": true, "eu-west": true}

// fleetQuery is the error rate of one target: the exporter labels each
// target's series with its namespace (target_ns), since every target
// runs the same app.
const fleetQuery = `100 * sum(rate(http_requests_total{target_ns="{{namespace}}",{{colorLabel}}="{{color}}",code=~"5.."}[{{window}}]))` +
	` / sum(rate(http_requests_total{target_ns="{{namespace}}",{{colorLabel}}="{{color}}"}[{{window}}]))`

// fleetWindow is the window of the error rate: three scrapes of
// Prometheus, so that a breach shows, and goes, within seconds.
const fleetWindow = "3s"

// TestFleetRelease: release --fleet over four targets in three waves on
// TWO REAL API SERVERS, with each cluster's own Flux applying every
// commit and a real Prometheus behind the gates and the holds.
//
// The clusters: canary and eu-west are on the peer cluster
// (loop.RequirePeer: its own etcd, API server, controllers, kwok node
// and Flux), eu-central and us-east on the bed's. Within a cluster,
// NAMESPACES STAND IN FOR CLUSTERS: canary and eu-west are two
// namespaces of the peer, eu-central and us-east two of the bed. So wave
// 1 (canary) runs on the peer alone, wave 2 (eu-west, eu-central) spans
// both API servers, wave 3 (us-east) runs on the bed. Each target is
// reached through its own context of one kubeconfig (the context's
// cluster is the target's API server, its namespace the target's), and
// applied by its own Kustomization, on its cluster, from its own folder of
// one repository; each cluster's GitRepository polls only hourly, so
// every commit is applied because bgrender asked that cluster's Flux.
//
// The release goes through to the end: a commit per step and wave (the
// two targets of wave 2, on two clusters, in one deploy commit and one
// flip commit), each target's Service serving the new color. The same
// run again does nothing. Then the next image breaches on eu-central
// during wave 2's hold: wave 2 is rolled back on both clusters in one
// commit that names the target and the reading, us-east (wave 3) is
// untouched, and the table says so (exit 3); status --fleet shows every
// target, in sync with Git. Last, a release killed in the middle of wave
// 2 is finished by a re-run.
//
// To keep it short (about 80 s with both clusters' start-up), the holds
// are 2 s, the error-rate window three scrapes, and the breach is set
// the moment eu-central serves the new color; with -v each step logs its
// time from the bed's readiness.
func TestFleetRelease(t *testing.T) {
	t.Parallel() // it mostly waits; see main_test.go
	s := &story{t: t, bed: loop.Require(t, loop.Flux), start: time.Now()}
	bed := s.bed
	peer := loop.RequirePeer(t, loop.Flux)
	t.Cleanup(loop.StopPeer) // the only story on two clusters
	step := func(what string) { t.Logf("[%6.2fs] %s", time.Since(s.start).Seconds(), what) }
	step("both clusters ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s.bin, s.kubeconfig = helmtest.BuildBgrender(t), bed.KubeconfigPath()
	step("bgrender built")
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	// Each target: its cluster, a namespace there, its folder, a context.
	clusterOf := func(name string) *loop.Cluster {
		if fleetOnPeer[name] {
			return peer
		}
		return bed
	}
	exp := promtest.NewExporter()
	series := func(ns, color, code string) string {
		return fmt.Sprintf(`http_requests_total{target_ns=%q,version=%q,code=%q}`, ns, color, code)
	}
	work := t.TempDir()
	ns := map[string]string{}
	on := func(name string) *story { // the story on a target's cluster and namespace
		ts := *s
		ts.bed, ts.ns = clusterOf(name), ns[name]
		return &ts
	}
	for _, name := range fleetTargets {
		ns[name] = clusterOf(name).NewNamespace(t, ctx, "fleet-"+name, nil)
		on(name).fleetFolder(root, work, name)
		for _, c := range []string{"blue", "green"} {
			exp.SetRate(series(ns[name], c, "200"), 99.5)
			exp.SetRate(series(ns[name], c, "500"), 0.5)
		}
	}
	prom := promtest.Start(t, exp)
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	kubeconfig := fleetKubeconfig(t, map[string]*loop.Cluster{"bed": bed, "peer": peer}, func(name string) string {
		if fleetOnPeer[name] {
			return "peer"
		}
		return "bed"
	}, ns)
	s.env = []string{"KUBECONFIG=" + kubeconfig}

	// Each cluster's Flux: the repository, polled hourly, and a
	// Kustomization per target of that cluster only.
	for _, c := range []*loop.Cluster{bed, peer} {
		if err := c.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
			"  name: gitops\n", "  name: fleet\n", "interval: 1m", "interval: 1h")); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fleetTargets {
		if err := clusterOf(name).ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: fleet-"+name+"\n",
			"    name: gitops\n", "    name: fleet\n", "path: ./apps/my-application", "path: ./clusters/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fleetTargets {
		on(name).groupServes(ctx, "application-service", "blue")
	}
	step("each cluster's Flux applied its targets: every target serves blue")
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{target_ns="`+ns["eu-central"]+`"}[`+fleetWindow+`])`)
	waitCancel()

	fleetFile := filepath.Join(t.TempDir(), "fleet.yaml")
	writeFleet := func(hold2 string) {
		if err := os.WriteFile(fleetFile, []byte(fleetDoc(url, kubeconfig, hold2)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A commit that bgrender did not ask a cluster's Flux to apply would
	// wait for the hourly poll: the waits give up after a minute.
	release := func(image string) []string {
		return []string{"release", "--fleet", fleetFile, "--image", image, "--prometheus-url", prom.URL, "--max-error-rate", "5", "--window", fleetWindow, "--query", fleetQuery,
			"--rollout-timeout", "1m", "--live-timeout", "1m"}
	}
	commits := func() int { return git.CommitCount(t, "gitops", "main") }
	serves := func(name, color string) {
		t.Helper()
		on(name).groupServes(ctx, "application-service", color)
	}

	// 1. Through to the end: two commits per wave.
	step("1. release myapp:v2 through to the end")
	writeFleet("2s")
	before := commits()
	out, errOut := s.must(ctx, 0, release("myapp:v2")...)
	if n := commits(); n != before+6 {
		t.Errorf("%d commits, want %d: a deploy and a flip per wave, the two targets of wave 2 in each of its", n, before+6)
	}
	for _, name := range fleetTargets {
		if !tableSays(out, name, "green", "released") {
			t.Errorf("the table does not say %s is released on green:\n%s", name, out)
		}
		serves(name, "green")
	}
	for _, want := range []string{"wave 2 europe held for 2s", "live: Service " + ns["us-east"] + "/application-service serves green",
		"asked kustomization/flux-system/fleet-eu-west on eu-west to reconcile", "asked kustomization/flux-system/fleet-eu-central on eu-central to reconcile"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	t.Logf("the release's commits:\n%s", gittest.Git(t, git.RepoDir("gitops"), "log", "--format=%s", "-6", "main"))

	// 2. Again: nothing to do.
	step("2. release myapp:v2 again: nothing to do")
	n := commits()
	out, errOut = s.must(ctx, 0, release("myapp:v2")...)
	if commits() != n || strings.Count(errOut, "runs myapp:v2 live already") != 3 {
		t.Errorf("the second run: %d commits, want %d\n%s", commits(), n, errOut)
	}

	// 3. myapp:v3 breaches on eu-central once wave 2 is live on blue: the
	// error rate goes up as soon as its Service serves blue, and the hold
	// sees it at the next reading Prometheus has.
	step("3. release myapp:v3: a breach on eu-central in wave 2")
	writeFleet("60s")
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		ts := on("eu-central")
		if err := loop.WaitFor(ctx, "eu-central live on blue", func(ctx context.Context) (bool, error) {
			got, err := ts.endpointColors(ctx, "application-service")
			return err == nil && len(got) == 3 && got[0] == "blue" && got[2] == "blue", nil
		}); err != nil {
			return
		}
		exp.SetRate(series(ns["eu-central"], "blue", "500"), 40)
	}()
	n = commits()
	out, errOut = s.must(ctx, 3, release("myapp:v3")...)
	<-injected
	if got := commits(); got != n+5 {
		t.Errorf("%d commits, want %d: wave 1's two, wave 2's two and one rollback", got, n+5)
	}
	msg := gittest.Git(t, git.RepoDir("gitops"), "log", "--format=%B", "-1", "main")
	for _, want := range []string{"eu-west", "eu-central", "breach", "error rate on eu-central"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the rollback's commit message lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(errOut, "wave europe: breach: error rate on eu-central") || !strings.Contains(errOut, "the next waves are untouched") {
		t.Errorf("stderr:\n%s", errOut)
	}
	for name, want := range map[string][2]string{"canary": {"blue", "released"}, "eu-west": {"green", "rolled back"}, "eu-central": {"green", "rolled back"}, "us-east": {"green", "pending"}} {
		if !tableSays(out, name, want[0], want[1]) {
			t.Errorf("the table does not say %s: %s, %s:\n%s", name, want[0], want[1], out)
		}
		serves(name, want[0])
	}
	if img := gittest.Git(t, git.RepoDir("gitops"), "show", "main:clusters/us-east/deployment-blue.yaml"); strings.Contains(img, "myapp:v3") {
		t.Error("wave 3's folder was touched")
	}

	// 4. status --fleet: a row per target, read through its own context,
	// in sync with Git once Flux applied the rollback.
	step("4. status --fleet")
	out, _ = s.must(ctx, 0, "status", "--fleet", fleetFile)
	for name, live := range map[string]string{"canary": "blue", "eu-west": "green", "eu-central": "green", "us-east": "green"} {
		want := []string{name, name, ns[name], live}
		found := false
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 5 && slices.Equal(f[1:5], want) && strings.HasSuffix(line, "none") {
				found = true
			}
		}
		if !found {
			t.Errorf("status --fleet has no row %v with no drift:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "myapp:v3 3/3") || !strings.Contains(out, "myapp:v2 3/3") {
		t.Errorf("status --fleet does not show the images with ready/desired pods:\n%s", out)
	}

	// 5. eu-central recovers; myapp:v4 is killed as soon as wave 2's
	// deploy is in Git (before or after its reconcile request: the story
	// cannot tell), and the re-run finishes the release: wave 1 held
	// again, wave 2 resumed with a reconcile request and its gates (no
	// second deploy; without the request, a deploy the killed run never
	// asked for would wait for the hourly poll and the rollout gate's
	// minute would fail the story), then wave 3.
	step("5. eu-central recovers; release myapp:v4, killed in wave 2, then re-run")
	exp.SetRate(series(ns["eu-central"], "blue", "500"), 0.5)
	recovered := strings.NewReplacer("{{namespace}}", ns["eu-central"], "{{colorLabel}}", label, "{{color}}", "blue", "{{window}}", fleetWindow).Replace(fleetQuery) + " < 5"
	waitCtx, waitCancel = context.WithTimeout(ctx, time.Minute)
	prom.WaitFor(t, waitCtx, recovered)
	waitCancel()
	writeFleet("2s")
	n = commits()
	killed := exec.CommandContext(ctx, s.bin, release("myapp:v4")...)
	killed.Env = append(os.Environ(), s.env...)
	var killedErr bytes.Buffer
	killed.Stderr = &killedErr
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	late := false // the flip is in Git already: too late for a kill in the middle
	if err := loop.WaitFor(ctx, "wave 2's deploy of myapp:v4 in Git", func(ctx context.Context) (bool, error) {
		c := commits()
		late = c > n+3
		return c >= n+3, nil
	}); err != nil {
		t.Fatal(err)
	}
	killed.Process.Kill()
	killed.Wait()
	if late {
		t.Fatalf("the release flipped wave 2 before the story could kill it:\n%s", killedErr.String())
	}
	t.Logf("the killed release said:\n%s", killedErr.String())
	out, errOut = s.must(ctx, 0, release("myapp:v4")...)
	for _, want := range []string{"wave 1 canary: every target runs myapp:v4 live already", "wave 1 canary: holding it again before wave 2 europe starts",
		"eu-west: cluster eu-west, clusters/eu-west in " + url + ": green live (myapp:v2), blue idle (myapp:v4): deployed, resumes with the gates"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the re-run's stderr lacks %q:\n%s", want, errOut)
		}
	}
	if got := commits(); got != n+6 {
		t.Errorf("%d commits after the re-run, want %d: wave 2's flip and wave 3's deploy and flip added", got, n+6)
	}
	for name, live := range map[string]string{"canary": "green", "eu-west": "blue", "eu-central": "blue", "us-east": "blue"} {
		if !tableSays(out, name, live, "released") {
			t.Errorf("the table does not say %s is released on %s:\n%s", name, live, out)
		}
		serves(name, live)
	}
	step("done")
}

// tableSays reports whether the fleet's table has a row for target with
// the live color and the state.
func tableSays(out, target, live, state string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 7 && f[1] == target && f[4] == live && strings.Join(f[6:], " ") == state {
			return true
		}
	}
	return false
}

// fleetFolder writes the article's plain folder as the target's, in
// clusters/<name>, in the story's namespace.
func (s *story) fleetFolder(root, work, name string) {
	s.t.Helper()
	s.groupApp(root, work, "plain", "application", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	if err := os.MkdirAll(filepath.Join(work, "clusters"), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "apps", "application"), filepath.Join(work, "clusters", name)); err != nil {
		s.t.Fatal(err)
	}
}

// fleetKubeconfig writes a kubeconfig with a context per target: the
// cluster clusterOf names (an entry of clusters, with its admin user) and
// the target's namespace.
func fleetKubeconfig(t *testing.T, clusters map[string]*loop.Cluster, clusterOf func(target string) string, ns map[string]string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, c := range clusters {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: c.Host(), InsecureSkipTLSVerify: true}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: c.AdminToken()}
	}
	for target, n := range ns {
		cfg.Contexts[target] = &clientcmdapi.Context{Cluster: clusterOf(target), AuthInfo: clusterOf(target), Namespace: n}
	}
	file := filepath.Join(t.TempDir(), "clusters.yaml")
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		t.Fatal(err)
	}
	return file
}

// fleetDoc is the story's fleet file; wave 2 holds for hold2.
func fleetDoc(url, kubeconfig, hold2 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: bgrender.io/v1alpha1\nkind: Fleet\nmetadata: {name: shop}\nspec:\n  repo: %s\n  kubeconfig: %s\n  targets:\n", url, kubeconfig)
	for _, name := range fleetTargets {
		fmt.Fprintf(&b, "    - {name: %s, path: clusters/%s, context: %s, reconcile: [kustomization/flux-system/fleet-%s]}\n", name, name, name, name)
	}
	fmt.Fprintf(&b, "  waves:\n")
	fmt.Fprintf(&b, "    - {name: canary, targets: [canary], hold: 2s, interval: 1s}\n")
	fmt.Fprintf(&b, "    - {name: europe, targets: [eu-west, eu-central], hold: %s, interval: 1s}\n", hold2)
	fmt.Fprintf(&b, "    - {name: rest, targets: [us-east], hold: 2s, interval: 1s}\n")
	return b.String()
}
