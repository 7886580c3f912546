package postrender_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/netpol"
	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/spec"
)

// TestReachability asks an independent NetworkPolicy engine who may reach
// the pods of a post-rendered chart: with a NodePort Service and an
// Ingress in the chart, in standard and strict mode, and in the real Helm
// charts' golden output.
func TestReachability(t *testing.T) {
	ingress := stream + "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules: [{host: web.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]\n"
	for _, tc := range []struct {
		name string
		opts postrender.NetworkPolicyOptions
		want netpol.Expect
	}{
		{"standard", postrender.NetworkPolicyOptions{PodCIDRs: []string{"10.244.0.0/16"}}, netpol.Expect{Egress: true, Chart: true}},
		{"strict", postrender.NetworkPolicyOptions{Mode: spec.NetworkPolicyStrict}, netpol.Expect{Strict: true, Chart: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, ingress, postrender.Options{NetworkPolicy: &tc.opts})
			s, err := netpol.Read([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Policies) != 2 {
				t.Fatalf("want 2 policies, got %d", len(s.Policies))
			}
			netpol.Check(t, netpol.New(s.Policies), netpol.Probes(s, spec.DefaultColorLabel, tc.want))
		})
	}
	goldens, _ := filepath.Glob("../testdata/golden/helm/*.yaml")
	if len(goldens) == 0 {
		t.Fatal("no Helm golden files")
	}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			data, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			s, err := netpol.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Policies) == 0 {
				t.Fatal("no NetworkPolicies in the golden output")
			}
			netpol.Check(t, netpol.New(s.Policies), netpol.Probes(s, spec.DefaultColorLabel, netpol.Expect{Egress: true, Chart: true}))
		})
	}
}

// TestConfigNetworkPolicyPeers: a PostRenderConfig's peers and egress rules
// are checked as a spec's are, so that what the API server would refuse,
// or a peer that selects the chart's own pods, is bad input.
func TestConfigNetworkPolicyPeers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	data := "apiVersion: bgrender.io/v1alpha1\nkind: PostRenderConfig\nnetworkPolicy:\n  allowFrom: [{}, {podSelector: {}}]\n  egress: [{ports: [{port: 70000}]}]\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := postrender.LoadConfig(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"networkPolicy.allowFrom[0]: a peer needs podSelector", "networkPolicy.allowFrom[1]: selects the chart's own", "networkPolicy.egress[0].ports[0].port: 70000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestChartRoutesPassThrough: the post-renderer leaves a chart's HTTPRoute
// (and Ingress) as they are: they name the chart's Service, which it routes
// to the active color, so all of their traffic follows a flip. Weighted
// shifting is a spec.traffic feature; the post-renderer has no --weight.
func TestChartRoutesPassThrough(t *testing.T) {
	route := "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec:\n  parentRefs: [{name: public}]\n  rules: [{backendRefs: [{name: web, port: 80}]}]   # the chart's own\n"
	out := run(t, stream+route, postrender.Options{Active: spec.Green})
	if !strings.Contains(out, route) {
		t.Errorf("the chart's HTTPRoute changed:\n%s", out)
	}
	svc := docs(t, out)["Service/web"]
	if svc == nil || get(t, svc, "spec.selector.bgrender\\.io/color") != "green" {
		t.Errorf("the route's Service does not select the active color")
	}
}
