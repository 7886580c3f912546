package loop_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// The Gateway stories' judge: at every weight a route is run at, at least
// stepRequests requests through the Gateway, and green's share of them
// within splitTolerance percentage points of the weight.
const (
	stepRequests   = 2000
	splitTolerance = 3.0
	testerHeader   = "x-bgrender-color"
	// splitPoll is how often the stories read Traefik's running
	// configuration; a request that started within splitPoll of a change
	// may have met either configuration.
	splitPoll = 50 * time.Millisecond
)

// gatewaySpec continues managedFolder's spec: the data plane's node, and
// the Gateway mode with the bed's Gateway (Traefik) as parent, no traffic
// on the idle color yet, and the testers' header. Each story has a
// hostname of its own (its namespace's): the stories share the Gateway,
// and of two routes that match the same requests the older one wins.
func gatewaySpec(host string) string {
	return dataPlaneSpec + "  traffic:\n    weight: 0\n    header: " + testerHeader + "\n    gateway:\n" +
		"      parentRefs: [{name: " + loop.GatewayName + ", namespace: " + loop.GatewayNamespace + "}]\n" +
		"      hostnames: [" + host + "]\n"
}

// applied is a configuration Traefik ran the route with, from when the
// story first saw it: green's weight in percent of the route's main rule.
type applied struct {
	at    time.Time
	green float64
}

// routeTarget is what a story's clients ask the Gateway for: the
// HTTPRoute ns/route whose main rule splits between Services service-blue
// and service-green, its hostname, and the header of its testers' rule
// ("" when it has none).
type routeTarget struct {
	ns, route, service, host, header string
}

// gatewayLoad is load through the bed's Gateway while a story runs:
// keep-alive and new-connection clients on the route's main rule, a tester
// client with the header that picks green (when the route has that rule),
// and a reader of the configuration Traefik runs the route with.
type gatewayLoad struct {
	t                    *testing.T
	to                   routeTarget
	keep, fresh, testers *load.Run
	stopSplits           context.CancelFunc
	wg                   sync.WaitGroup
	mu                   sync.Mutex
	splits               []applied
}

// startGatewayLoad waits until Traefik runs the route with every request
// on blue and answers from the pods (a route whose Services' endpoints
// Traefik has not read yet answers 503), starts the clients and the
// reader, and waits for the first requests served. The clients stop by
// themselves after max.
func startGatewayLoad(t *testing.T, ctx context.Context, bed *loop.Cluster, to routeTarget, max time.Duration) *gatewayLoad {
	t.Helper()
	gw := bed.Traefik()
	g := &gatewayLoad{t: t, to: to}
	if err := loop.WaitFor(ctx, "Traefik to run the route", func(ctx context.Context) (bool, error) {
		green, ok := g.read(ctx, gw)
		return ok && green == 0, nil
	}); err != nil {
		t.Fatalf("%v; traefik.log:\n%s", err, gw.LogTail(20))
	}
	cfg := load.Config{URL: gw.URL(), Host: to.host, Clients: 4, Duration: max, Pause: 2 * time.Millisecond, Dial: bed.DataPlane().DialFrom}
	g.waitAnswers(ctx, bed, "")
	if to.header != "" {
		g.waitAnswers(ctx, bed, "green")
	}
	var err error
	if g.keep, err = load.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Mode, cfg.Clients, cfg.ClientOffset = load.NewConnection, 2, 4
	if g.fresh, err = load.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if to.header != "" {
		cfg.Mode, cfg.Clients, cfg.ClientOffset, cfg.Pause = load.KeepAlive, 1, 6, 20*time.Millisecond
		cfg.Header = http.Header{http.CanonicalHeaderKey(to.header): {"green"}}
		if g.testers, err = load.Start(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	splitCtx, cancel := context.WithCancel(context.Background())
	g.stopSplits = cancel
	g.wg.Go(func() { g.follow(splitCtx, gw) })
	t.Cleanup(func() { g.stop() })
	if err := loop.WaitFor(ctx, "the first requests through the Gateway", func(context.Context) (bool, error) {
		return len(g.records()) >= 100, nil
	}); err != nil {
		t.Fatal(err)
	}
	return g
}

// waitAnswers waits until 10 requests in a row through the Gateway, with
// the testers' header set to color unless it is "", are answered by a pod.
func (g *gatewayLoad) waitAnswers(ctx context.Context, bed *loop.Cluster, color string) {
	g.t.Helper()
	client := bed.DataPlane().HTTPClient(time.Second)
	defer client.CloseIdleConnections()
	row := 0
	if err := loop.WaitFor(ctx, "the route to answer from its pods", func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, bed.Traefik().URL(), nil)
		if err != nil {
			return false, err
		}
		req.Host = g.to.host
		if color != "" {
			req.Header.Set(g.to.header, color)
		}
		resp, err := client.Do(req)
		if err != nil {
			row = 0
			return false, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get(loop.HeaderPod) == "" {
			row = 0
			return false, nil
		}
		row++
		return row >= 10, nil
	}); err != nil {
		g.t.Fatal(err)
	}
}

// read returns green's weight, in percent, in the route's main rule as
// Traefik runs it; false when Traefik does not run the route.
func (g *gatewayLoad) read(ctx context.Context, gw *loop.Traefik) (float64, bool) {
	return gw.RouteShare(ctx, g.to.ns, g.to.route, g.to.service+"-green")
}

// follow records every change of the configuration Traefik runs the route
// with, every splitPoll.
func (g *gatewayLoad) follow(ctx context.Context, gw *loop.Traefik) {
	tick := time.NewTicker(splitPoll)
	defer tick.Stop()
	for {
		if green, ok := g.read(ctx, gw); ok {
			g.mu.Lock()
			if n := len(g.splits); n == 0 || g.splits[n-1].green != green {
				g.splits = append(g.splits, applied{at: time.Now(), green: green})
			}
			g.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// appliedAt waits until Traefik runs the route with green at weight, and
// returns when the story first saw it.
func (g *gatewayLoad) appliedAt(ctx context.Context, weight float64) time.Time {
	g.t.Helper()
	var at time.Time
	if err := loop.WaitFor(ctx, fmt.Sprintf("Traefik to run green at %v%%", weight), func(context.Context) (bool, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if n := len(g.splits); n > 0 && g.splits[n-1].green == weight {
			at = g.splits[n-1].at
			return true, nil
		}
		return false, nil
	}); err != nil {
		g.t.Fatal(err)
	}
	return at
}

// waitRequests waits until the main rule's clients have started n
// requests since from.
func (g *gatewayLoad) waitRequests(ctx context.Context, from time.Time, n int) {
	g.t.Helper()
	if err := loop.WaitFor(ctx, fmt.Sprintf("%d requests through the Gateway", n), func(context.Context) (bool, error) {
		return len(load.Split(g.records(), func(r load.Record) bool { return r.Start.After(from) })) >= n, nil
	}); err != nil {
		g.t.Fatal(err)
	}
}

// records are the main rule's requests so far, both kinds of client.
func (g *gatewayLoad) records() []load.Record {
	recs := append(g.keep.Records(), g.fresh.Records()...)
	slices.SortFunc(recs, func(a, b load.Record) int { return a.Start.Compare(b.Start) })
	return recs
}

// rate is how many requests a second the main rule's clients have had
// served so far.
func (g *gatewayLoad) rate() float64 {
	recs := g.records()
	if len(recs) < 2 {
		return 0
	}
	return float64(len(recs)) / recs[len(recs)-1].Start.Sub(recs[0].Start).Seconds()
}

func (g *gatewayLoad) stop() {
	g.keep.Stop()
	g.fresh.Stop()
	if g.testers != nil {
		g.testers.Stop()
	}
	g.stopSplits()
	g.wg.Wait()
}

// judge stops the load and checks it: no request failed; Traefik ran the
// route at the weights want, in that order (green's share: the state
// before the first step, then each step); at each step at least
// stepRequests requests, green's share of them within splitTolerance
// points of the weight; no request served by a color that neither the
// configuration before nor the one in force routed to, nor by a pod of
// another namespace; every tester request (if the route has testers)
// served by green. It logs the table.
func (g *gatewayLoad) judge(want []float64, commands map[float64]command) {
	t := g.t
	t.Helper()
	end := time.Now()
	g.stop()
	recs := g.records()
	splits := slices.Clone(g.splits)
	var seen []float64
	for _, s := range splits {
		seen = append(seen, s.green)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("Traefik ran the route with green at %v%%, want %v", seen, want)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "served through Traefik, per configuration it ran (keep-alive and new-connection clients):\n")
	for i, s := range splits {
		to := end
		if i+1 < len(splits) {
			to = splits[i+1].at.Add(-splitPoll)
		}
		in := load.Split(recs, func(r load.Record) bool { return !r.Start.Before(s.at) && r.Start.Before(to) })
		w := load.Summarize(in, time.Time{}, time.Time{})
		share := greenShare(in)
		lag := ""
		if c, ok := commands[s.green]; ok {
			lag = fmt.Sprintf(", running %s after the command started", s.at.Sub(c.start).Round(time.Millisecond))
			if !c.end.IsZero() {
				lag += fmt.Sprintf(" (%s after it returned)", s.at.Sub(c.end).Round(time.Millisecond))
			}
		}
		fmt.Fprintf(&b, "  green at %5.1f%%: served %6.2f%% green over %s%s\n", s.green, share, w, lag)
		if i > 0 && (w.Requests < stepRequests || math.Abs(share-s.green) > splitTolerance) {
			t.Errorf("green at %v%%: %d requests, %.2f%% served by green; want at least %d within %v points", s.green, w.Requests, share, stepRequests, splitTolerance)
		}
		// What may serve a request that started in this configuration (or
		// within splitPoll before it was seen): its colors and the
		// previous one's.
		allowed := colorsAt(s.green)
		if i > 0 {
			allowed = append(allowed, colorsAt(splits[i-1].green)...)
		}
		from := s.at.Add(-splitPoll)
		if i == 0 {
			from = time.Time{}
		}
		for _, r := range recs {
			if !r.Failed() && !r.Start.Before(from) && r.Start.Before(to) && !slices.Contains(allowed, r.Color) {
				t.Errorf("green at %v%%: a request at %s served by %s (%s), which neither this configuration nor the one before routes to",
					s.green, r.Start.Format("15:04:05.000"), r.Color, r.Pod)
				break
			}
		}
	}
	for _, r := range recs {
		if !r.Failed() && r.Namespace != g.to.ns {
			t.Errorf("a request at %s served by pod %s of namespace %s, not the route's", r.Start.Format("15:04:05.000"), r.Pod, r.Namespace)
			break
		}
	}
	all := load.Summarize(recs, time.Time{}, time.Time{})
	fmt.Fprintf(&b, "  whole story: %s", all)
	if all.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v; first ones: %+v", all.Failed, all.Requests, all.Errors, all.Samples)
	}
	if g.testers != nil {
		testers := g.testers.Records()
		tw := load.Summarize(testers, time.Time{}, time.Time{})
		fmt.Fprintf(&b, "\n  testers (%s: green): %s", g.to.header, tw)
		if tw.Failed != 0 || tw.Requests == 0 || greenShare(testers) != 100 {
			t.Errorf("testers with %s: green: %s, %.2f%% served by green", g.to.header, tw, greenShare(testers))
		}
	}
	t.Log(b.String())
}

// command is when the command that set a weight started and returned
// (zero when it went on to further steps).
type command struct{ start, end time.Time }

// colorsAt are the colors a route with green at weight percent sends to.
func colorsAt(green float64) []string {
	var c []string
	if green < 100 {
		c = append(c, "blue")
	}
	if green > 0 {
		c = append(c, "green")
	}
	return c
}

// greenShare is the percentage of served requests that green served.
func greenShare(recs []load.Record) float64 {
	served, green := 0, 0
	for _, r := range recs {
		if !r.Failed() {
			served++
			if r.Color == "green" {
				green++
			}
		}
	}
	if served == 0 {
		return math.NaN()
	}
	return 100 * float64(green) / float64(served)
}

// gatewayStory sets up the article's app in the Gateway mode, applied by
// Flux from a Git repository, both colors serving on the data plane, and
// returns the story, the repository's URL and the Kustomization's name.
func gatewayStory(t *testing.T, ctx context.Context, bed *loop.Cluster, name string) (*story, string) {
	t.Helper()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, name, nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, gatewaySpec(s.ns+".example.com"))
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, name, app+"-blue", app+"-green")
	s.waitServes(ctx, app+"-green", "green", 3)
	return s, url
}

// TestGatewayShiftServed: the Gateway mode judged by the requests a real
// Gateway (Traefik, the bed's) serves: with Flux applying each commit,
// `shift --weight` 10, 50 and 100 each make Traefik send that share of
// requests to green (at least 2,000 requests at each weight, within 3
// points), the testers' header sends every request to green, no request
// reaches a color the route does not send to, and none fails.
func TestGatewayShiftServed(t *testing.T) {
	bed := loop.Require(t, loop.Flux, loop.Gateway)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, url := gatewayStory(t, ctx, bed, "gwshift")
	g := startGatewayLoad(t, ctx, bed, routeTarget{s.ns, app, app, s.ns + ".example.com", testerHeader}, 3*time.Minute)
	commands := map[float64]command{}
	for _, weight := range []int{10, 50, 100} {
		began := time.Now()
		s.must(ctx, 0, "shift", "--weight", fmt.Sprint(weight), "--reconcile", "kustomization/flux-system/gwshift", "--wait-live",
			"--repo", url, "--path", appPath)
		commands[float64(weight)] = command{began, time.Now()}
		g.waitRequests(ctx, g.appliedAt(ctx, float64(weight)), stepRequests)
	}
	g.judge([]float64{0, 10, 50, 100}, commands)
}

// TestGatewayStepsServed: `promote --steps 10,50,100` judged by the
// requests Traefik serves: each step's share of requests goes to green
// (at least 2,000 requests at each, within 3 points); the last step flips
// the Services and leaves green with every request; the testers' header
// sends every request to green all along; none fails.
func TestGatewayStepsServed(t *testing.T) {
	bed := loop.Require(t, loop.Flux, loop.Gateway)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, url := gatewayStory(t, ctx, bed, "gwsteps")
	g := startGatewayLoad(t, ctx, bed, routeTarget{s.ns, app, app, s.ns + ".example.com", testerHeader}, 3*time.Minute)
	// Each step is held long enough for its requests at the rate the
	// clients get here, plus Traefik's delay in applying a route (its
	// providers' throttle) and Flux's in applying the commit.
	g.waitRequests(ctx, time.Time{}, 500)
	rate := g.rate()
	hold := time.Duration(1.5*stepRequests/rate*float64(time.Second)) + 3*time.Second
	hold = hold.Round(time.Second)
	t.Logf("%.0f requests/s through the Gateway: each step held %s", rate, hold)
	began := time.Now()
	s.must(ctx, 0, "promote", "--to", "green", "--steps", "10,50,100", "--step-wait", hold.String(),
		"--reconcile", "kustomization/flux-system/gwsteps", "--live-timeout", "1m", "--repo", url, "--path", appPath)
	g.waitRequests(ctx, g.appliedAt(ctx, 100), stepRequests)
	s.waitServes(ctx, app, "green", 3)
	g.judge([]float64{0, 10, 50, 100}, map[float64]command{10: {start: began}})
}

// TestHelmWeightServed: the Helm post-renderer's --weight on
// examples/charts/gateway, through the real Helm 3 and the bed's Gateway:
// installed at 0, `helm upgrade --wait` with --weight 10, 50 and 100 each
// make Traefik send that share of the route's requests to green (at least
// 2,000 requests at each weight, within 3 points); no request reaches a
// color the route does not send to, and none fails.
func TestHelmWeightServed(t *testing.T) {
	bed := loop.Require(t, loop.Gateway)
	h := helmtest.Require(t, 3)
	bin := helmtest.BuildBgrender(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ns := bed.NewNamespace(t, ctx, "helm-weight", nil)
	h = h.WithKubeconfig(bed.KubeconfigPath())
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const release = "web"
	host := ns + ".example.com"
	helm := func(weight int) {
		t.Helper()
		args := []string{"upgrade", "--install", release, filepath.Join(root, "examples", "charts", "gateway"), "--namespace", ns, "--wait", "--timeout", "2m",
			"--set", "route.gateway=" + loop.GatewayName, "--set", "route.gatewayNamespace=" + loop.GatewayNamespace, "--set", "route.hostname=" + host,
			"--set", "tolerations[0].key=" + loop.TaintKey, "--set", "tolerations[0].operator=Exists", "--set", "tolerations[0].effect=NoSchedule",
			"--set", "tolerations[1].key=" + loop.DataPlaneTaintKey, "--set", "tolerations[1].operator=Exists", "--set", "tolerations[1].effect=NoSchedule",
			"--set", `nodeSelector.kubernetes\.io/hostname=` + loop.DataPlaneNodeName,
			"--post-renderer", bin, "--post-renderer-args", "postrender", "--post-renderer-args", "--from-release=" + release,
			"--post-renderer-args", "--namespace=" + ns, "--post-renderer-args", fmt.Sprintf("--weight=%d", weight)}
		began := time.Now()
		if _, stderr, err := h.Run(ctx, args...); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		t.Logf("helm upgrade --post-renderer-args --weight=%d: %s", weight, loop.Since(began))
	}
	helm(0)
	g := startGatewayLoad(t, ctx, bed, routeTarget{ns: ns, route: release, service: release, host: host}, 3*time.Minute)
	commands := map[float64]command{}
	for _, weight := range []int{10, 50, 100} {
		began := time.Now()
		helm(weight)
		commands[float64(weight)] = command{began, time.Now()}
		g.waitRequests(ctx, g.appliedAt(ctx, float64(weight)), stepRequests)
	}
	g.judge([]float64{0, 10, 50, 100}, commands)
}
