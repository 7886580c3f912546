package loop_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// dataPlaneSpec continues managedFolder's tolerations with the data plane
// node's and keeps the pods on that node, so that they answer requests.
var dataPlaneSpec = "    - {key: " + loop.DataPlaneTaintKey + ", operator: Exists, effect: NoSchedule}\n" +
	"  nodeSelector: {kubernetes.io/hostname: " + loop.DataPlaneNodeName + "}\n"

// traffic is load through a Service's ClusterIP while a story runs: keep
// clients that keep their connections alive, and fresh clients that open
// one per request, each client from its own source address.
type traffic struct {
	t           *testing.T
	keep, fresh *load.Run
	began       time.Time
}

const (
	keepClients  = 3
	freshClients = 3
)

// startTraffic starts the clients against Service svc's ClusterIP, port 80;
// they stop by themselves after max.
func startTraffic(t *testing.T, ctx context.Context, bed *loop.Cluster, ns, svc string, max time.Duration) *traffic {
	t.Helper()
	s, err := bed.Clientset().CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := load.Config{
		URL:      "http://" + net.JoinHostPort(s.Spec.ClusterIP, "80") + "/",
		Clients:  keepClients,
		Duration: max,
		Pause:    20 * time.Millisecond,
		Dial:     bed.DataPlane().DialFrom,
	}
	// kube-proxy programs a new Service's ClusterIP after its own delay
	// (--min-sync-period): a request before that is refused, which says
	// nothing of a flip. The judged traffic starts once it answers.
	client := bed.DataPlane().HTTPClient(time.Second)
	if err := loop.WaitFor(ctx, "Service "+svc+"'s ClusterIP to answer", func(context.Context) (bool, error) {
		resp, err := client.Get(cfg.URL)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.Header.Get(loop.HeaderPod) != "", nil
	}); err != nil {
		t.Fatal(err)
	}
	tr := &traffic{t: t, began: time.Now()}
	if tr.keep, err = load.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Mode, cfg.Clients, cfg.ClientOffset = load.NewConnection, freshClients, keepClients
	if tr.fresh, err = load.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.keep.Stop(); tr.fresh.Stop() })
	return tr
}

// waitServed waits until both kinds of client have had n requests served.
func (tr *traffic) waitServed(ctx context.Context, n int) {
	tr.t.Helper()
	if err := loop.WaitFor(ctx, fmt.Sprintf("%d requests served to each kind of client", n), func(context.Context) (bool, error) {
		return len(tr.keep.Records()) >= n && len(tr.fresh.Records()) >= n, nil
	}); err != nil {
		tr.t.Fatal(err)
	}
}

// stop stops the clients and returns their records.
func (tr *traffic) stop() (keep, fresh []load.Record) {
	return tr.keep.Stop(), tr.fresh.Stop()
}

// podsByClient maps each client to the pods that served it, from the
// records that started in [from, to).
func podsByClient(recs []load.Record, from, to time.Time) map[int][]string {
	out := map[int][]string{}
	for _, r := range recs {
		if r.Start.Before(from) || !r.Start.Before(to) || r.Failed() {
			continue
		}
		if !slices.Contains(out[r.Client], r.Pod) {
			out[r.Client] = append(out[r.Client], r.Pod)
		}
	}
	for _, pods := range out {
		slices.Sort(pods)
	}
	return out
}

// colorsOf returns the sorted colors that served the records.
func colorsOf(recs []load.Record) []string {
	var colors []string
	for _, r := range recs {
		if !r.Failed() && !slices.Contains(colors, r.Color) {
			colors = append(colors, r.Color)
		}
	}
	slices.Sort(colors)
	return colors
}

// phase is a named stretch of a story, for the traffic table.
type phase struct {
	name       string
	start, end time.Time
	from, to   string // colors: live before and after
}

// logPhases logs, for each phase, what both kinds of client saw from its
// start until the next phase's start, and the times from its start to
// the first request on the color it makes live and to the last one on the
// color it leaves (fresh connections).
func logPhases(t *testing.T, keep, fresh []load.Record, phases []phase, end time.Time) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "traffic per phase (keep-alive | new-connection clients):\n")
	for i, p := range phases {
		to := end
		if i+1 < len(phases) {
			to = phases[i+1].start
		}
		k, f := load.Summarize(keep, p.start, to), load.Summarize(fresh, p.start, to)
		fmt.Fprintf(&b, "  %-22s %5.1fs | keep: %s\n  %-22s        | new:  %s\n", p.name, p.end.Sub(p.start).Seconds(), k, "", f)
		if p.from != p.to {
			first, last := "never", "never"
			if at, ok := f.First[p.to]; ok {
				first = at.Sub(p.start).Round(time.Millisecond).String()
			}
			if at, ok := f.Last[p.from]; ok {
				last = at.Sub(p.start).Round(time.Millisecond).String()
			}
			fmt.Fprintf(&b, "  %-22s        | new connections: first on %s after %s, last on %s after %s (command took %s)\n",
				"", p.to, first, p.from, last, p.end.Sub(p.start).Round(time.Millisecond))
		}
	}
	t.Log(b.String())
}
