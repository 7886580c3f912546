package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/spec"
)

// The Gateway mode (-gateway): the spec's HTTPRoute, attached to the
// Gateways its parentRefs name, served by the bed's real Gateway
// (Traefik); `bgrender shift --weight` moves the idle color's share
// through 10, 50, 100 and back to 0, each with --reconcile --wait-live,
// while clients send requests through the Gateway with the spec's first
// hostname. Per step it prints when Traefik ran the new weight (from the
// command's start, read from Traefik's API every splitPoll), the idle
// color's share of at least stepRequests requests after that, and the
// failed requests and latency from the command's start on.
const (
	stepRequests = 2000
	splitPoll    = 50 * time.Millisecond
)

var gatewayWeights = []int{10, 50, 100, 0}

var gatewaysGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// gatewayRoute checks that the spec routes through a Gateway.
func (b *benchApp) gatewayRoute() (*spec.GatewayRouteSpec, error) {
	t := b.spec.Spec.Traffic
	if t == nil || t.Gateway == nil {
		return nil, fmt.Errorf("-gateway: %s has no spec.traffic.gateway", b.file)
	}
	return t.Gateway, nil
}

// ensureGateways creates, for each parentRef of the spec that the bed
// does not run already, a Gateway of the bed's class (Traefik) with a
// listener for any hostname on the Gateway's port, named as the parentRef's
// sectionName (or "http"), and waits until Traefik programmed it: what
// the cluster's operator would have set up before the team's route
// arrives.
func ensureGateways(ctx context.Context, bed *loop.Cluster, b *benchApp, route *spec.GatewayRouteSpec) error {
	for _, p := range route.ParentRefs {
		ns := p.Namespace
		if ns == "" {
			ns = b.ns
		}
		if ns == loop.GatewayNamespace && p.Name == loop.GatewayName {
			continue
		}
		if err := createNamespace(ctx, bed, ns); err != nil {
			return err
		}
		listener := p.SectionName
		if listener == "" {
			listener = "http"
		}
		gw := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
			"metadata": map[string]any{"name": p.Name, "namespace": ns},
			"spec": map[string]any{
				"gatewayClassName": loop.GatewayClassName,
				"listeners": []any{map[string]any{
					"name": listener, "port": int64(loop.GatewayPort), "protocol": "HTTP",
					"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}},
				}},
			},
		}}
		_, err := bed.Dynamic().Resource(gatewaysGVR).Namespace(ns).Create(ctx, gw, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Gateway %s/%s: %w", ns, p.Name, err)
		}
		if err := loop.WaitFor(ctx, "Gateway "+ns+"/"+p.Name+" programmed", func(ctx context.Context) (bool, error) {
			u, err := bed.Dynamic().Resource(gatewaysGVR).Namespace(ns).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Programmed" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// gatewayBench is the Gateway mode's load and what it measured.
type gatewayBench struct {
	bed         *loop.Cluster
	app         *benchApp
	idle        string
	keep, fresh *load.Run
	steps       map[int][]gatewayStep
}

// gatewayStep is one shift as the clients saw it.
type gatewayStep struct {
	applied   time.Duration // from the command's start until Traefik ran the weight
	command   time.Duration // the command's own time (it returns once the route is live)
	requests  int           // requests started after Traefik ran the weight, until the count was reached
	idleShare float64       // the idle color's share of them, in percent
	window    load.Window   // every request from the command's start until the count was reached
}

// runGateway measures n rounds of the weights through the Gateway.
func runGateway(ctx context.Context, bed *loop.Cluster, b *benchApp, bin string, env, repo, reconcile []string, n int) {
	route, err := b.gatewayRoute()
	check(err)
	host := ""
	if len(route.Hostnames) > 0 {
		host = route.Hostnames[0]
	}
	g := &gatewayBench{bed: bed, app: b, idle: other(string(b.spec.Spec.Active)), steps: map[int][]gatewayStep{}}
	gw := bed.Traefik()
	check(loop.WaitFor(ctx, "Traefik to run the route "+b.ns+"/"+b.name, func(ctx context.Context) (bool, error) {
		_, ok := g.idleWeight(ctx)
		return ok, nil
	}))
	cfg := load.Config{URL: gw.URL(), Host: host, Clients: 2, Duration: load.MaxDuration, Pause: 2 * time.Millisecond, Dial: bed.DataPlane().DialFrom}
	check(waitAnswersHost(ctx, bed, gw.URL(), host))
	g.keep, err = load.Start(ctx, cfg)
	check(err)
	cfg.Mode, cfg.ClientOffset = load.NewConnection, 2
	g.fresh, err = load.Start(ctx, cfg)
	check(err)
	defer g.keep.Stop()
	defer g.fresh.Stop()
	fmt.Printf("Gateway: Traefik %s (ready in %s); HTTPRoute %s/%s through it with Host %q; 2 keep-alive and 2 new-connection clients\n",
		loop.TraefikVersion, gw.StartupTime().Round(time.Millisecond), b.ns, b.name, host)

	for i := 1; i <= n; i++ {
		for _, w := range gatewayWeights {
			st := g.shift(ctx, bin, env, append(append([]string{"shift", "--weight", fmt.Sprint(w)}, repo...), append(reconcile, "--wait-live")...), w)
			g.steps[w] = append(g.steps[w], st)
			fmt.Printf("shift --weight %-3d round %d: Traefik ran it %s after the command's start (the command: %s); %s of %d requests after it: %.2f%% (want %d%%); %s\n",
				w, i, st.applied.Round(time.Millisecond), st.command.Round(time.Millisecond), g.idle, st.requests, st.idleShare, w, st.window)
		}
	}
	fmt.Printf("\nthrough the Gateway (%d rounds; medians with min-max):\n", n)
	fmt.Printf("  %-18s %-28s %9s %7s %9s %9s %s\n", "transition", "Traefik runs it after", "requests", "failed", "p50", "p99", g.idle+"'s share (want)")
	for _, w := range gatewayWeights {
		var applied, p50, p99 []time.Duration
		var reqs, failed int
		var shares []string
		for _, st := range g.steps[w] {
			applied, p50, p99 = append(applied, st.applied), append(p50, st.window.P50), append(p99, st.window.P99)
			reqs += st.window.Requests
			failed += st.window.Failed
			shares = append(shares, fmt.Sprintf("%.2f%%", st.idleShare))
		}
		fmt.Printf("  %-18s %-28s %9d %7d %9s %9s %s (%d%%)\n", fmt.Sprintf("shift --weight %d", w), spread(applied), reqs, failed, median(p50), median(p99), strings.Join(shares, " "), w)
	}
	k, f := load.Summarize(g.keep.Stop(), time.Time{}, time.Time{}), load.Summarize(g.fresh.Stop(), time.Time{}, time.Time{})
	fmt.Printf("whole run: keep-alive clients %s\n           new-connection clients %s\n", k, f)
}

// shift runs one bgrender shift and measures it.
func (g *gatewayBench) shift(ctx context.Context, bin string, env, args []string, weight int) gatewayStep {
	start := time.Now()
	run(bin, env, args...)
	command := time.Since(start)
	var applied time.Time
	check(loop.WaitFor(ctx, fmt.Sprintf("Traefik to run %s at %d%%", g.idle, weight), func(ctx context.Context) (bool, error) {
		w, ok := g.idleWeight(ctx)
		if ok && w == float64(weight) {
			applied = time.Now()
			return true, nil
		}
		time.Sleep(splitPoll)
		return false, nil
	}))
	from := applied.Add(splitPoll) // a request that started earlier may have met the weight before
	var after []load.Record
	check(loop.WaitFor(ctx, fmt.Sprintf("%d requests through the Gateway", stepRequests), func(context.Context) (bool, error) {
		after = load.Split(g.records(), func(r load.Record) bool { return r.Start.After(from) && !r.End.IsZero() })
		return len(after) >= stepRequests, nil
	}))
	served, idle := 0, 0
	for _, r := range after {
		if r.Failed() || r.Color == "" {
			continue
		}
		served++
		if r.Color == g.idle {
			idle++
		}
	}
	share := 0.0
	if served > 0 {
		share = 100 * float64(idle) / float64(served)
	}
	return gatewayStep{applied: applied.Sub(start), command: command, requests: len(after), idleShare: share,
		window: load.Summarize(g.records(), start, time.Now())}
}

// records are the clients' requests so far, by start.
func (g *gatewayBench) records() []load.Record {
	recs := append(g.keep.Records(), g.fresh.Records()...)
	slices.SortFunc(recs, func(a, b load.Record) int { return a.Start.Compare(b.Start) })
	return recs
}

// idleWeight is the idle color's weight, in percent, in the route's main
// rule (the rule without the testers' header) as Traefik runs it; false
// when Traefik does not run the route.
func (g *gatewayBench) idleWeight(ctx context.Context) (float64, bool) {
	return g.bed.Traefik().RouteShare(ctx, g.app.ns, g.app.name, g.app.name+"-"+g.idle)
}

// waitAnswersHost waits until 10 requests in a row through the Gateway
// with Host host are answered by a pod (Traefik answers 503 until it has
// read the route's EndpointSlices).
func waitAnswersHost(ctx context.Context, bed *loop.Cluster, url, host string) error {
	client := bed.DataPlane().HTTPClient(time.Second)
	defer client.CloseIdleConnections()
	row := 0
	return loop.WaitFor(ctx, "the route to answer from its pods", func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			row = 0
			return false, nil
		}
		resp.Body.Close()
		if resp.Header.Get(loop.HeaderPod) == "" {
			row = 0
			return false, nil
		}
		row++
		return row >= 10, nil
	})
}
