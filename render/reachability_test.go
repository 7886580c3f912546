package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/netpol"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// expectations of each example: what its policies must admit besides the
// rows that never change (the same color yes, the other color no, DNS yes).
var reachExpect = map[string]netpol.Expect{
	"seed":    {Egress: true},
	"minimal": {Egress: true},
	// full declares an egress rule to 10.20.0.0/16:5432 and admits the
	// cart pods through allowFrom.
	"full": {Egress: true, Also: []netpol.Endpoint{netpol.Pod("cart (allowFrom)", "", "10.244.9.9", map[string]string{"app.kubernetes.io/name": "cart"})}},
	// gateway routes through the Gateway "public" in gateway-system: its
	// data plane reaches both colors, the ingress-nginx controller nothing.
	"gateway": {Egress: true, NoIngressController: true, Gateways: []netpol.Endpoint{gatewayPod}},
	// nginx is the seed with an NGINX canary: its traffic comes through
	// the ingress-nginx controller, which standard mode already admits for
	// spec.ingress, to both colors.
	"nginx": {Egress: true},
	// autoscaling adds HPAs, which change nothing in the policies.
	"autoscaling": {Egress: true},
	// migrations adds expand Jobs, whose pods no color's policy selects.
	"migrations": {Egress: true},
}

// gatewayPod is a pod of the data plane of the Gateway "public" in
// gateway-system (as Istio, NGINX Gateway Fabric or kgateway run it, in the
// Gateway's namespace).
var gatewayPod = netpol.Pod("Gateway data plane in gateway-system", "gateway-system", "10.244.9.10", map[string]string{"gateway.networking.k8s.io/gateway-name": "public"})

// TestReachability asks an independent NetworkPolicy engine who may reach
// the pods of every example, both as rendered now and as pinned in the
// golden files, and of the seed example in strict mode.
func TestReachability(t *testing.T) {
	examples, _ := filepath.Glob("../examples/*/app.yaml")
	if len(examples) < 3 {
		t.Fatalf("found %d examples", len(examples))
	}
	for _, path := range examples {
		name := filepath.Base(filepath.Dir(path))
		want, ok := reachExpect[name]
		if !ok {
			t.Fatalf("example %s: add its expectations to reachExpect", name)
		}
		apps := load(t, path)
		t.Run(name, func(t *testing.T) {
			var buf strings.Builder
			if err := render.WriteYAML(&buf, render.Render(apps)); err != nil {
				t.Fatal(err)
			}
			check(t, []byte(buf.String()), apps[0].Spec.ColorLabel, want)
		})
		t.Run(name+"/golden", func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "golden", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			check(t, data, apps[0].Spec.ColorLabel, want)
		})
	}
	t.Run("seed/strict", func(t *testing.T) {
		app := seed(t)
		app.Spec.NetworkPolicy.Mode = spec.NetworkPolicyStrict
		var buf strings.Builder
		if err := render.WriteYAML(&buf, render.Render([]*spec.BlueGreenApp{app})); err != nil {
			t.Fatal(err)
		}
		check(t, []byte(buf.String()), app.Spec.ColorLabel, netpol.Expect{Strict: true})
	})
}

func check(t *testing.T, data []byte, colorLabel string, want netpol.Expect) {
	t.Helper()
	s, err := netpol.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	colors := 0 // the colors' policies; <name>-migrations selects no color's pods
	for _, p := range s.Policies {
		if !strings.HasSuffix(p.Name, "-migrations") {
			colors++
		}
	}
	if colors != 2 || len(s.Deployments) != 2 {
		t.Fatalf("want 2 policies of the colors and 2 Deployments, got %d and %d", colors, len(s.Deployments))
	}
	netpol.Check(t, netpol.New(s.Policies), netpol.Probes(s, colorLabel, want))
}

// TestReachabilityWithoutPodCIDRs pins the gap that podCIDRs closes: on an
// engine that matches ipBlocks against pod addresses (Calico's reading),
// the rule for a LoadBalancer's outside clients also admits the other
// color unless the pod CIDR is excepted from it.
func TestReachabilityWithoutPodCIDRs(t *testing.T) {
	app := seed(t)
	app.Spec.NetworkPolicy.PodCIDRs = nil
	var policies []*networkingv1.NetworkPolicy
	for _, c := range spec.Colors {
		policies = append(policies, render.NetworkPolicy(app, c))
	}
	e := netpol.New(policies)
	green := netpol.Pod("green", "", "10.244.1.5", render.SelectorLabels(app, spec.Green))
	blue := netpol.Pod("blue", "", "10.244.1.6", render.SelectorLabels(app, spec.Blue))
	port := netpol.Port{Number: 8080, Name: "http", Protocol: "TCP"}
	if !e.Allowed(green, blue, port) {
		t.Errorf("without podCIDRs the engine was expected to admit green through 0.0.0.0/0; if it no longer does, update the README's note on podCIDRs")
	}
}

// TestReachabilityGateway: a Gateway in another namespace is admitted as
// that namespace; a Gateway in the app's own namespace (a parentRef without
// namespace, or naming it) adds no peer, since a namespace-wide one would
// admit the other color: its data plane is admitted only when allowFrom
// names its pods. Strict mode admits no Gateway.
func TestReachabilityGateway(t *testing.T) {
	render1 := func(t *testing.T, app *spec.BlueGreenApp) []byte {
		t.Helper()
		var buf strings.Builder
		if err := render.WriteYAML(&buf, render.Render([]*spec.BlueGreenApp{app})); err != nil {
			t.Fatal(err)
		}
		return []byte(buf.String())
	}
	local := netpol.Pod("Gateway data plane in the app's namespace", "production", "10.244.9.11", map[string]string{"gateway.networking.k8s.io/gateway-name": "public"})
	for _, ns := range []string{"", "production"} {
		t.Run("own-namespace="+ns, func(t *testing.T) {
			app := load(t, "../examples/gateway/app.yaml")[0]
			app.Spec.Traffic.Gateway.ParentRefs[0].Namespace = ns
			if peers := render.GatewayPeers(app); len(peers) != 0 {
				t.Fatalf("a Gateway in the app's namespace added peers %v", peers)
			}
			data := render1(t, app)
			// The Gateway in gateway-system is no longer admitted, nor is
			// the local data plane without allowFrom.
			s, err := netpol.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			e := netpol.New(s.Policies)
			port := netpol.Port{Number: 8080, Name: "http", Protocol: "TCP"}
			for _, c := range spec.Colors {
				to := netpol.Pod(string(c), "production", "10.244.1.9", render.SelectorLabels(app, c))
				if e.Allowed(local, to, port) {
					t.Errorf("the local data plane reaches %s without allowFrom", c)
				}
				if e.Allowed(gatewayPod, to, port) {
					t.Errorf("gateway-system reaches %s though no parentRef names it", c)
				}
			}
			check(t, data, app.Spec.ColorLabel, netpol.Expect{Egress: true, NoIngressController: true})
			// Named with a podSelector in allowFrom, it reaches both colors.
			app.Spec.NetworkPolicy.AllowFrom = append(app.Spec.NetworkPolicy.AllowFrom, networkingv1.NetworkPolicyPeer{
				PodSelector: &metav1.LabelSelector{MatchLabels: local.Labels},
			})
			check(t, render1(t, app), app.Spec.ColorLabel, netpol.Expect{Egress: true, NoIngressController: true, Also: []netpol.Endpoint{local}})
		})
	}
	t.Run("strict", func(t *testing.T) {
		app := load(t, "../examples/gateway/app.yaml")[0]
		app.Spec.NetworkPolicy.Mode = spec.NetworkPolicyStrict
		check(t, render1(t, app), app.Spec.ColorLabel, netpol.Expect{Strict: true, Gateways: []netpol.Endpoint{gatewayPod}})
	})
}
