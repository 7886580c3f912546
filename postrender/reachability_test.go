package postrender_test

import (
	"os"
	"path/filepath"
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
