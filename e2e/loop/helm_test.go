package loop_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestHelmUpgradeKeepsActiveColorLive is the post-renderer's story
// (e2e/TestHelmUpgradeKeepsActiveColor) on the loop bed, with the real Helm
// 3 and `helm upgrade --wait` against controllers that roll the colors out:
// install 1.25, upgrade to 1.26 (green), flip to green, upgrade to 1.27
// (blue), flip to blue. Across the upgrades no pod of the live color is
// restarted, and every change of the Service's EndpointSlices lists pods of
// one color only: the live one, or the one a flip is moving to. The pods
// run on the data plane's node and clients send requests to the Service's
// ClusterIP through kube-proxy all along: not one fails, and once a flip
// is served (and kube-proxy has followed), new connections reach only the
// new color.
func TestHelmUpgradeKeepsActiveColorLive(t *testing.T) {
	bed := loop.Require(t, loop.DataPlane)
	h := helmtest.Require(t, 3)
	bin := helmtest.BuildBgrender(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := bed.NewNamespace(t, ctx, "helm-live", nil)
	h = h.WithKubeconfig(bed.KubeconfigPath())
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "examples", "charts", "web")
	const release, colorKey = "web", "bgrender.io/color"

	// Every EndpointSlice event of Service web: the colors of its ready
	// endpoints, checked against the colors allowed at that moment.
	var mu sync.Mutex
	allowed := map[string]bool{}
	var bad []string
	events := 0
	colorOf := func(pod string) string {
		p, err := bed.Clientset().CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return "gone"
		}
		return p.Labels[colorKey]
	}
	wi, err := bed.Clientset().DiscoveryV1().EndpointSlices(ns).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + release})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	go func() {
		for ev := range wi.ResultChan() {
			es, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			seen := map[string]bool{}
			for _, ep := range es.Endpoints {
				if ep.TargetRef != nil && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
					if c := colorOf(ep.TargetRef.Name); c != "gone" { // deleted since: no color to read
						seen[c] = true
					}
				}
			}
			mu.Lock()
			events++
			for c := range seen {
				if !allowed[c] || len(seen) > 1 {
					bad = append(bad, strings.Join(keys(seen), "+"))
				}
			}
			mu.Unlock()
		}
	}()
	allow := func(colors ...string) {
		mu.Lock()
		defer mu.Unlock()
		allowed = map[string]bool{}
		for _, c := range colors {
			allowed[c] = true
		}
	}

	helm := func(tag string, extra ...string) {
		t.Helper()
		args := []string{"upgrade", "--install", release, chart, "--namespace", ns, "--wait", "--timeout", "2m",
			"--set", "image.tag=" + tag,
			"--set", "tolerations[0].key=" + loop.TaintKey, "--set", "tolerations[0].operator=Exists", "--set", "tolerations[0].effect=NoSchedule",
			"--set", "tolerations[1].key=" + loop.DataPlaneTaintKey, "--set", "tolerations[1].operator=Exists", "--set", "tolerations[1].effect=NoSchedule",
			"--set", `nodeSelector.kubernetes\.io/hostname=` + loop.DataPlaneNodeName,
			"--post-renderer", bin, "--post-renderer-args", "postrender", "--post-renderer-args", "--from-release=" + release, "--post-renderer-args", "--namespace=" + ns}
		for _, e := range extra {
			args = append(args, "--post-renderer-args", e)
		}
		if _, stderr, err := h.Run(ctx, args...); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
	}
	uids := func(color string) map[string]string {
		t.Helper()
		list, err := bed.Clientset().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: colorKey + "=" + color})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				out[p.Name] = string(p.UID)
			}
		}
		return out
	}
	serves := func(step, color string) {
		t.Helper()
		if err := loop.WaitFor(ctx, "Service web to serve "+color+" after "+step, func(ctx context.Context) (bool, error) {
			names, err := bed.ReadyEndpoints(ctx, ns, release)
			if err != nil || len(names) != 2 {
				return false, err
			}
			for _, n := range names {
				if colorOf(n) != color {
					return false, nil
				}
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	allow("blue")
	helm("1.25.0")
	serves("install", "blue")
	blue := uids("blue")
	tr := startTraffic(t, ctx, bed, ns, release, 4*time.Minute)
	tr.waitServed(ctx, 20)
	var phases []phase
	step := func(name, from, to string, do func()) {
		p := phase{name: name, start: time.Now(), from: from, to: to}
		do()
		p.end = time.Now()
		phases = append(phases, p)
	}
	step("upgrade to 1.26", "blue", "blue", func() { helm("1.26.0") }) // to green, the idle color
	serves("upgrade to 1.26", "blue")
	if got := uids("blue"); !mapsEqual(got, blue) {
		t.Errorf("upgrade to 1.26 restarted live blue pods: %v, then %v", blue, got)
	}
	green := uids("green")
	allow("blue", "green")
	step("flip to green", "blue", "green", func() { helm("1.26.0", "--active=green"); serves("flip to green", "green") })
	allow("green")
	if got := uids("green"); !mapsEqual(got, green) {
		t.Errorf("the flip restarted green pods: %v, then %v", green, got)
	}
	step("upgrade to 1.27", "green", "green", func() { helm("1.27.0") }) // to blue, now idle
	serves("upgrade to 1.27", "green")
	if got := uids("green"); !mapsEqual(got, green) {
		t.Errorf("upgrade to 1.27 restarted live green pods: %v, then %v", green, got)
	}
	allow("blue", "green")
	step("flip to blue", "green", "blue", func() { helm("1.27.0", "--active=blue"); serves("flip to blue", "blue") })
	flipped := time.Now()
	// kube-proxy follows the EndpointSlices within its --min-sync-period
	// (1 s); after that, new connections reach blue only.
	time.Sleep(3 * time.Second)
	tr.waitServed(ctx, 20)
	keep, fresh := tr.stop()
	end := time.Now()
	logPhases(t, keep, fresh, phases, end)
	for _, recs := range [][]load.Record{keep, fresh} {
		if all := load.Summarize(recs, time.Time{}, time.Time{}); all.Failed > 0 || all.Requests == 0 {
			t.Errorf("clients through the ClusterIP: %s; want requests and none failed", all)
		}
	}
	var late []load.Record
	for _, r := range fresh {
		if r.Start.After(flipped.Add(1500 * time.Millisecond)) {
			late = append(late, r)
		}
	}
	if got := colorsOf(late); !slices.Equal(got, []string{"blue"}) {
		t.Errorf("new connections from 1.5 s after the flip to blue was served were served by %v, want [blue]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d EndpointSlice events of Service web", events)
	if len(bad) > 0 {
		t.Errorf("Service web's ready endpoints were of a color not intended at that moment: %v", bad)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
