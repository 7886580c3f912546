package loop

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestKwokStages: the embedded stage configuration holds the five Stages
// copied from kwok and the data plane's pod-ready (no binary needed).
func TestKwokStages(t *testing.T) {
	objs, err := DecodeYAML(kwokStages)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Stage" || o.GetAPIVersion() != "kwok.x-k8s.io/v1alpha1" {
			t.Errorf("%s %s/%s is not a kwok Stage", o.GetAPIVersion(), o.GetKind(), o.GetName())
		}
		names = append(names, o.GetName())
	}
	want := []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-ready-data-plane", "pod-complete", "pod-fail", "pod-delete"}
	if len(names) != len(want) {
		t.Fatalf("stages %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("stages %v, want %v", names, want)
		}
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Errorf("got %q", got)
	}
}

// TestPreStopSleep: a sleep action, an exec of sleep (also in a shell),
// the longest of the containers; none is 0.
func TestPreStopSleep(t *testing.T) {
	c := func(h *corev1.LifecycleHandler) corev1.Container {
		return corev1.Container{Lifecycle: &corev1.Lifecycle{PreStop: h}}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		c(&corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}),
		c(&corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "sleep 7.5 && echo done"}}}),
		{},
	}}}
	if got := preStopSleep(pod); got != 7500*time.Millisecond {
		t.Errorf("got %s", got)
	}
	if got := preStopSleep(&corev1.Pod{}); got != 0 {
		t.Errorf("got %s", got)
	}
}

// TestTakeIP: addresses come from the pod CIDR, never the network's own
// address, and one held (a draining pod's) is not handed out again.
func TestTakeIP(t *testing.T) {
	d := &DataNode{used: map[netip.Addr]bool{}}
	prefix := netip.MustParsePrefix(DataPlanePodCIDR)
	first, err := d.takeIP()
	if err != nil || !prefix.Contains(first) || first == prefix.Addr() {
		t.Fatalf("%s, %v", first, err)
	}
	seen := map[netip.Addr]bool{first: true}
	for range 100 {
		a, err := d.takeIP()
		if err != nil || seen[a] || !prefix.Contains(a) {
			t.Fatalf("%s, %v (seen: %v)", a, err, seen[a])
		}
		seen[a] = true
	}
	d.releaseIP(first)
	if a, _ := d.takeIP(); a == first {
		t.Errorf("a released address came back at once: %s", a)
	}
}

// TestRouteSplits: the weights of a route's weighted services are read out
// of Traefik's /api/rawdata, with the provider's names mapped back to the
// backend Services' (another route whose name starts alike is left out;
// a backend without a weight has the API's default, 1).
func TestRouteSplits(t *testing.T) {
	const raw = `{
  "routers": {
    "httproute-shop-web-gw-gateway-system-traefik-ep-web-0-1c0cf64bde37d9d0@kubernetesgateway": {
      "entryPoints": ["web"], "service": "httproute-shop-web-gw-gateway-system-traefik-ep-web-0-1c0cf64bde37d9d0-wrr",
      "rule": "Host(\"web.example.com\") \u0026\u0026 PathPrefix(\"/\")", "status": "enabled"},
    "httproute-shop-web-gw-gateway-system-traefik-ep-web-1-9f2a@kubernetesgateway": {
      "service": "httproute-shop-web-gw-gateway-system-traefik-ep-web-1-9f2a-wrr",
      "rule": "Host(\"web.example.com\") \u0026\u0026 PathPrefix(\"/\") \u0026\u0026 Header(\"x-color\",\"green\")"},
    "httproute-shop-web2-gw-gateway-system-traefik-ep-web-0-77@kubernetesgateway": {
      "service": "httproute-shop-web2-gw-gateway-system-traefik-ep-web-0-77-wrr", "rule": "Host(\"other\")"},
    "ping@internal": {"service": "ping@internal", "rule": "PathPrefix(\"/ping\")"}
  },
  "services": {
    "httproute-shop-web-gw-gateway-system-traefik-ep-web-0-1c0cf64bde37d9d0-wrr@kubernetesgateway": {
      "weighted": {"services": [{"name": "shop-web-blue-http-80", "weight": 70}, {"name": "shop-web-green-http-80", "weight": 30}]}},
    "httproute-shop-web-gw-gateway-system-traefik-ep-web-1-9f2a-wrr@kubernetesgateway": {
      "weighted": {"services": [{"name": "shop-web-green-http-80"}]}},
    "httproute-shop-web2-gw-gateway-system-traefik-ep-web-0-77-wrr@kubernetesgateway": {
      "weighted": {"services": [{"name": "shop-other-http-80", "weight": 1}]}},
    "shop-web-blue-http-80@kubernetesgateway": {"loadBalancer": {"servers": [{"url": "http://10.212.16.1:8080"}]}}
  }
}`
	splits, err := routeSplits([]byte(raw), "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []Split{
		{Rule: `Host("web.example.com") && PathPrefix("/")`, Weights: map[string]int{"web-blue": 70, "web-green": 30}},
		{Rule: `Host("web.example.com") && PathPrefix("/") && Header("x-color","green")`, Weights: map[string]int{"web-green": 1}},
	}
	if len(splits) != len(want) {
		t.Fatalf("splits %+v, want %+v", splits, want)
	}
	for i := range want {
		if splits[i].Rule != want[i].Rule || !maps.Equal(splits[i].Weights, want[i].Weights) {
			t.Errorf("split %d: %+v, want %+v", i, splits[i], want[i])
		}
	}
	if _, err := routeSplits([]byte("<html>"), "shop", "web"); err == nil {
		t.Error("no error for an answer that is not JSON")
	}
}
