// Command loop measures, on the loop bed (internal/testbed/loop: a cluster
// whose controllers run, kwok's fake nodes, Flux, and its data plane:
// kube-proxy and pods that answer), how long a bgrender commit takes to
// move traffic: from the start of `bgrender promote` (and of `bgrender
// rollback`) until the active Service's EndpointSlices list only ready pods
// of the new color, as an independent watcher in this program sees it, with
// Flux fetching at its interval and with --reconcile. All along, clients
// send requests to the active Service's ClusterIP through kube-proxy
// (internal/testbed/load: some keep their connection alive, some open one
// per request); for each transition it prints the requests sent from the
// command's start until 2 s after the EndpointSlices switched, how many
// failed, their p50/p99 latency, and, as clients on new connections see it,
// the time from the command's start to the first request served by the new
// color and to the last one served by the old color. It prints every
// round, the medians with min–max, and the peak RSS of the bgrender
// processes. `release --reconcile --wait-live` rounds deploy a new image
// to the idle color, wait for its rollout, and flip: the whole release.
// For `promote --reconcile --wait-live` it also prints how long
// after the watcher saw the switch the bgrender process exited: the lag of
// --wait-live as CI feels it; the `src` rounds ask Flux through the
// GitRepository alone (the Kustomization follows its source's new
// artifact) instead of the Kustomization with its source, to show which
// request makes Flux apply sooner. With -rollouts (the default) each
// release round is followed by the same release through Argo Rollouts'
// controller on the same bed and Flux (rollouts.go): one commit of the new
// image and the same reconcile request, timed from the commit's start to
// the active Service's EndpointSlices all on the new pods; it prints the
// ratio of the medians. It needs root (network namespaces).
//
//	go run ./bench/loop [-n 5] [-interval 5s] [-bin PATH] [-rollouts=false] [-spec FILE] [-gateway]
//
// -gateway measures the Gateway mode instead (gateway.go): the spec's
// HTTPRoute through the bed's real Gateway, Traefik.
//
// -spec releases any BlueGreenApp spec as its user wrote it (the article's
// examples/seed/app.yaml by default): the file is committed unchanged, into
// its own namespace (a Kustomization's targetNamespace when it names
// none); the bed's data plane node is its only node without a taint, so
// the pods land there with no test-only tolerations. It measures the
// ClusterIP path (the active Service's port through kube-proxy): a spec's
// Gateway, Ingress or canary routing is not exercised, and its
// NetworkPolicies are not enforced (kube-proxy does not enforce them).
//
// It needs the bed's binaries in .tools/bin (make tools).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

func main() {
	n := flag.Int("n", 5, "rounds per variant")
	interval := flag.Duration("interval", 5*time.Second, "the GitRepository's interval")
	bin := flag.String("bin", "", "bgrender binary (default: build ./cmd/bgrender)")
	withRollouts := flag.Bool("rollouts", true, "interleave each release round with the same release through Argo Rollouts' controller")
	specFile := flag.String("spec", "", "the BlueGreenApp spec to release, as its user wrote it (default: examples/seed/app.yaml)")
	gatewayMode := flag.Bool("gateway", false, "the Gateway mode: the spec's HTTPRoute through a real Gateway (Traefik), shift --weight 10, 50, 100, 0 (needs spec.traffic.gateway; default spec examples/gateway/app.yaml)")
	flag.Parse()

	root, err := kubetest.RepoRoot()
	check(err)
	if *specFile == "" {
		*specFile = filepath.Join(root, "examples", "seed", "app.yaml")
		if *gatewayMode {
			*specFile = filepath.Join(root, "examples", "gateway", "app.yaml")
		}
	}
	a, err := loadApp(*specFile)
	check(err)
	parts := []loop.Part{loop.Flux, loop.DataPlane}
	if *gatewayMode {
		_, err := a.gatewayRoute()
		check(err)
		parts = append(parts, loop.Gateway)
	}
	work, err := os.MkdirTemp("", "bgrender-bench-loop")
	check(err)
	defer os.RemoveAll(work)
	if *bin == "" {
		*bin = filepath.Join(work, "bgrender")
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/bgrender")
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		check(build.Run())
	}

	ctx := context.Background()
	began := time.Now()
	bed, err := loop.Start(ctx, loop.Config{OpenDataPlane: true}, parts...)
	check(err)
	defer bed.Stop()
	if *gatewayMode {
		route, _ := a.gatewayRoute()
		check(ensureGateways(ctx, bed, a, route))
	}
	fmt.Printf("bed: core %s, Flux %s, data plane %s\n", bed.StartupTime().Round(time.Millisecond), bed.FluxStartupTime().Round(time.Millisecond),
		bed.DataPlane().StartupTime().Round(time.Millisecond))
	cs := bed.Clientset()
	check(createNamespace(ctx, bed, a.ns))

	// The app, rendered into a managed folder of a bare repository served
	// over smart HTTP.
	seedDir := filepath.Join(work, "seed")
	folder := filepath.Join(seedDir, filepath.FromSlash(a.path))
	check(os.MkdirAll(folder, 0o755))
	check(os.WriteFile(filepath.Join(folder, "bgrender.yaml"), a.text, 0o644))
	run(*bin, nil, "render", filepath.Join(folder, "bgrender.yaml"), "--output-dir", folder)
	srvRoot := filepath.Join(work, "srv")
	check(os.MkdirAll(srvRoot, 0o755))
	bare := filepath.Join(srvRoot, "gitops.git")
	git("", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	git(bare, "config", "http.receivepack", "true")
	git("", "-C", seedDir, "init", "--quiet", "--initial-branch=main")
	git(seedDir, "add", "--all", ".")
	git(seedDir, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "--quiet", "-m", "seed")
	git(seedDir, "push", "--quiet", bare, "main")
	srv, err := gittest.Serve(srvRoot)
	check(err)
	defer srv.Close()
	url := srv.URL + "/gitops.git"

	gitRepo := fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: gitops, namespace: flux-system}
spec: {url: %q, ref: {branch: main}, interval: %s}
`, url, *interval)
	check(bed.ApplyYAML(ctx, []byte(gitRepo)))
	check(bed.ApplyYAML(ctx, []byte(kustomization(a.name, a.path, a.targetNamespace()))))
	live := string(a.spec.Spec.Active)
	for _, c := range []string{"blue", "green"} {
		d, err := bed.WaitDeploymentAvailable(ctx, a.ns, a.name+"-"+c)
		check(err)
		if c == live {
			a.replicas = int(*d.Spec.Replicas)
		}
	}
	check(waitServes(ctx, bed, a.ns, a.name, a.label+"="+live, a.replicas))
	fmt.Printf("%s (%s) applied by Flux and rolled out %s after start: %s serves %d pods\n", a.name, a.file, time.Since(began).Round(time.Millisecond), live, a.replicas)

	env := []string{"KUBECONFIG=" + bed.KubeconfigPath()}
	repo := []string{"--repo", url, "--path", a.path}
	reconcile := []string{"--reconcile", "kustomization/flux-system/" + a.name}
	if *gatewayMode {
		runGateway(ctx, bed, a, *bin, env, repo, reconcile, *n)
		return
	}

	svc, err := cs.CoreV1().Services(a.ns).Get(ctx, a.name, metav1.GetOptions{})
	check(err)
	svcURL := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port))) + "/"
	// kube-proxy follows the EndpointSlices after its own delay.
	check(waitAnswers(ctx, bed, svcURL))
	cfg := load.Config{
		URL:      svcURL,
		Clients:  2,
		Duration: load.MaxDuration,
		Pause:    10 * time.Millisecond,
		Dial:     bed.DataPlane().DialFrom,
	}
	keep, err := load.Start(ctx, cfg)
	check(err)
	cfg.Mode, cfg.ClientOffset = load.NewConnection, 2
	fresh, err := load.Start(ctx, cfg)
	check(err)
	defer keep.Stop()
	defer fresh.Stop()
	fmt.Printf("load: 2 keep-alive and 2 new-connection clients to %s (each pausing %s between requests; at most %s)\n", cfg.URL, cfg.Pause, load.MaxDuration)

	var argo *rolloutPath
	if *withRollouts {
		var stop func()
		argo, stop = setupRollout(ctx, bed, *bin, a, seedDir, bare)
		defer stop()
	}

	type variant struct {
		name string
		args []string
	}
	source := []string{"--reconcile", "gitrepository/flux-system/gitops"}
	if ns := a.targetNamespace(); ns != "" {
		source = append(source, "-n", ns) // a GitRepository does not say where its objects go
	}
	variants := []string{"promote", "promote --reconcile", "rollback", "rollback --reconcile", "promote --wait-live", "promote --wait-live src", "release --wait-live"}
	if argo != nil {
		variants = append(variants, argoRelease)
	}
	results := map[string][]time.Duration{}
	traffic := map[string][]transition{}
	lags := []time.Duration{} // --wait-live's exit after the watcher saw the switch
	var peak int64
	for _, v := range []variant{
		{"promote", append([]string{"promote"}, repo...)},
		{"promote --reconcile", append(append([]string{"promote"}, repo...), reconcile...)},
		{"rollback", append([]string{"rollback"}, repo...)},
		{"rollback --reconcile", append(append([]string{"rollback"}, repo...), reconcile...)},
		{"promote --wait-live", append(append(append([]string{"promote"}, repo...), reconcile...), "--wait-live")},
		{"promote --wait-live src", append(append(append([]string{"promote"}, repo...), source...), "--wait-live")},
		{"release --wait-live", append(append(append([]string{"release"}, repo...), reconcile...), "--wait-live")},
	} {
		for i := 0; i < *n; i++ {
			// rollback needs a promotion to return from; promote flips.
			if strings.HasPrefix(v.name, "rollback") {
				run(*bin, env, append(append([]string{"promote"}, repo...), reconcile...)...)
				live = other(live)
				check(waitServes(ctx, bed, a.ns, a.name, a.label+"="+live, a.replicas))
				time.Sleep(settle) // until kube-proxy follows
			}
			args := v.args
			if strings.HasPrefix(v.name, "release") { // a new image each round
				args = append(slices.Clip(args), "--image", a.image(i+1))
			}
			start := time.Now()
			exited := make(chan int64, 1)
			go func() { exited <- run(*bin, env, args...) }()
			from := live
			live = other(live)
			check(waitServes(ctx, bed, a.ns, a.name, a.label+"="+live, a.replicas))
			d := time.Since(start)
			rss := <-exited
			if v.name == "promote --wait-live" {
				lags = append(lags, time.Since(start)-d)
			}
			peak = max(peak, rss)
			results[v.name] = append(results[v.name], d)
			time.Sleep(settle)
			tt := measure(keep.Records(), fresh.Records(), start, start.Add(d+settle), from, live)
			traffic[v.name] = append(traffic[v.name], tt)
			fmt.Printf("%-22s round %d: EndpointSlices on %s after %s (bgrender max RSS %.1f MB); %s\n", v.name, i+1, live, d.Round(time.Millisecond), float64(rss)/1024, tt)
			if argo != nil && strings.HasPrefix(v.name, "release") {
				d, tt := argo.round(ctx, i+1)
				results[argoRelease] = append(results[argoRelease], d)
				traffic[argoRelease] = append(traffic[argoRelease], tt)
				fmt.Printf("%-22s round %d: EndpointSlices on ro-%d after %s; %s\n", argoRelease, i+1, i+1, d.Round(time.Millisecond), tt)
			}
		}
	}
	fmt.Printf("\nfrom the command's start to the active Service's EndpointSlices all on the new color (GitRepository interval %s, %d rounds):\n", *interval, *n)
	for _, name := range variants {
		ds := results[name]
		slices.Sort(ds)
		fmt.Printf("  %-22s median %s (min %s, max %s)\n", name, ds[len(ds)/2].Round(time.Millisecond), ds[0].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	if argo != nil {
		fmt.Printf("release, bgrender / Argo Rollouts: %.2f× (medians; bgrender from its command's start, Argo Rollouts from the commit's start)\n",
			float64(medianOf(results["release --wait-live"]))/float64(medianOf(results[argoRelease])))
	}
	slices.Sort(lags)
	fmt.Printf("promote --reconcile --wait-live exited after this program's watcher (EndpointSlices read every 10 ms) saw the switch by: median %s (min %s, max %s)\n",
		lags[len(lags)/2].Round(time.Millisecond), lags[0].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
	fmt.Printf("\nrequests during each transition (from the command's start until %s after the EndpointSlices switched; all clients), and as new connections see it, from the command's start to the first request on the new color and the last on the old one (%d rounds):\n", settle, *n)
	fmt.Printf("  %-22s %9s %7s %9s %9s %-26s %-26s\n", "transition", "requests", "failed", "p50", "p99", "first on new: median (min-max)", "last on old: median (min-max)")
	for _, name := range variants {
		ts := traffic[name]
		var reqs, failed int
		var p50, p99, first, last []time.Duration
		for _, t := range ts {
			reqs += t.requests
			failed += t.failed
			p50, p99 = append(p50, t.p50), append(p99, t.p99)
			first, last = append(first, t.firstNew), append(last, t.lastOld)
		}
		fmt.Printf("  %-22s %9d %7d %9s %9s %-30s %-30s\n", name, reqs, failed, median(p50), median(p99), spread(first), spread(last))
	}
	k, f := load.Summarize(keep.Stop(), time.Time{}, time.Time{}), load.Summarize(fresh.Stop(), time.Time{}, time.Time{})
	fmt.Printf("whole run: keep-alive clients %s\n           new-connection clients %s\n", k, f)
	fmt.Printf("peak RSS of bgrender: %.1f MB\n", float64(peak)/1024)
}

// settle is how long each round goes on after the EndpointSlices switched,
// so that the requests kube-proxy still sent to the old color are counted.
const settle = 2 * time.Second

// transition is what the clients saw during one transition.
type transition struct {
	requests, failed  int
	p50, p99          time.Duration
	firstNew, lastOld time.Duration // from the command's start; -1: none
	errors            map[load.Kind]int
	keepColors        []string // the colors that served keep-alive clients
}

func (t transition) String() string {
	failed := fmt.Sprint(t.failed)
	if t.failed > 0 {
		failed += fmt.Sprint(" ", t.errors)
	}
	return fmt.Sprintf("%d requests, %s failed, p50 %s p99 %s; new connections: first on new color after %s, last on old after %s; keep-alive clients served by %v",
		t.requests, failed, t.p50.Round(10*time.Microsecond), t.p99.Round(10*time.Microsecond), dur(t.firstNew), dur(t.lastOld), t.keepColors)
}

func measure(keep, fresh []load.Record, from, to time.Time, old, new string) transition {
	k, f := load.Summarize(keep, from, to), load.Summarize(fresh, from, to)
	all := load.Summarize(append(append([]load.Record(nil), keep...), fresh...), from, to)
	t := transition{requests: all.Requests, failed: all.Failed, p50: all.P50, p99: all.P99, firstNew: -1, lastOld: -1, errors: all.Errors}
	if at, ok := f.First[new]; ok {
		t.firstNew = at.Sub(from)
	}
	if at, ok := f.Last[old]; ok {
		t.lastOld = at.Sub(from)
	}
	for c := range k.First {
		t.keepColors = append(t.keepColors, c)
	}
	slices.Sort(t.keepColors)
	return t
}

func dur(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return d.Round(time.Millisecond).String()
}

func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return medianOf(ds).Round(10 * time.Microsecond).String()
}

// spread is the median and the min-max of durations, "none" counted as
// missing.
func spread(ds []time.Duration) string {
	var ok []time.Duration
	for _, d := range ds {
		if d >= 0 {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "none"
	}
	slices.Sort(ok)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	s := fmt.Sprintf("%s (%s-%s)", r(ok[len(ok)/2]), r(ok[0]), r(ok[len(ok)-1]))
	if len(ok) < len(ds) {
		s += fmt.Sprintf(", %d none", len(ds)-len(ok))
	}
	return s
}

func other(c string) string {
	if c == "blue" {
		return "green"
	}
	return "blue"
}

// argoRelease names the rounds of the Argo Rollouts path (rollouts.go).
const argoRelease = "argo rollouts release"

func medianOf(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// waitAnswers waits until a request to url through kube-proxy is answered
// by a pod: kube-proxy follows a new Service after its own delay.
func waitAnswers(ctx context.Context, bed *loop.Cluster, url string) error {
	client := bed.DataPlane().HTTPClient(time.Second)
	return loop.WaitFor(ctx, "the active Service's ClusterIP to answer", func(context.Context) (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.Header.Get(loop.HeaderPod) != "", nil
	})
}

// waitServes polls the EndpointSlices of Service svc every 10 ms until
// every ready endpoint is a pod that selector selects (want of them) and
// none is not ready.
func waitServes(ctx context.Context, bed *loop.Cluster, ns, svc, selector string, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cs := bed.Clientset()
	for {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		ofColor := map[string]bool{}
		for _, p := range pods.Items {
			ofColor[p.Name] = true
		}
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return err
		}
		good, bad := 0, 0
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.TargetRef != nil && ofColor[ep.TargetRef.Name] && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
					good++
				} else {
					bad++
				}
			}
		}
		if good == want && bad == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Service %s/%s does not serve %s: %d of its endpoints, %d others", ns, svc, selector, good, bad)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// output runs bgrender and returns its standard output; it exits on failure.
func output(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

// run runs bgrender and returns its max RSS in KiB; it exits on failure.
func run(bin string, env []string, args ...string) int64 {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bgrender %s: %v\n%s", strings.Join(args, " "), err, out)
		os.Exit(1)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

func git(dir string, args ...string) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "git %s: %v\n%s", strings.Join(args, " "), err, out)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/loop:", err)
		os.Exit(1)
	}
}
