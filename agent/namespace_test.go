package agent_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestTargetNamespace reads the namespace the agent objects apply into,
// from the real CRDs of Flux and Argo CD: a Kustomization's
// targetNamespace overrides, an Application's destination is a default;
// objects that are not there or say nothing say nothing; two that
// disagree are a conflict.
func TestTargetNamespace(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	crd, err := os.ReadFile("../testdata/crds/argocd-application-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, crd); err != nil {
		t.Fatal(err)
	}
	ns := bed.NewNamespace(t, ctx, "agents", nil)
	objs := `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: ` + ns + `}
spec: {sourceRef: {kind: GitRepository, name: gitops}, path: ./apps/shop, prune: true, interval: 10m, targetNamespace: shop-prod}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: plain, namespace: ` + ns + `}
spec: {sourceRef: {kind: GitRepository, name: gitops}, path: ./apps/plain, prune: true, interval: 10m}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop, namespace: ` + ns + `}
spec:
  project: default
  source: {repoURL: "https://git.example.com/ops/gitops.git", path: apps/shop, targetRevision: main}
  destination: {server: "https://kubernetes.default.svc", namespace: shop-staging}
`
	if err := loop.WaitFor(ctx, "the Application CRD to serve", func(ctx context.Context) (bool, error) {
		return bed.ApplyYAML(ctx, []byte(objs)) == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	ref := func(s string) agent.Ref {
		r, err := agent.ParseRef(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		name      string
		refs      []string
		want      agent.Target
		conflicts bool
	}{
		{"Flux", []string{"kustomization/" + ns + "/shop"},
			agent.Target{Namespace: "shop-prod", From: "spec.targetNamespace of kustomization/" + ns + "/shop", Overrides: true}, false},
		{"Argo CD", []string{"application/" + ns + "/shop"},
			agent.Target{Namespace: "shop-staging", From: "spec.destination.namespace of application/" + ns + "/shop"}, false},
		{"none set", []string{"kustomization/" + ns + "/plain", "gitrepository/" + ns + "/gitops"}, agent.Target{}, false},
		{"not there", []string{"kustomization/" + ns + "/missing"}, agent.Target{}, false},
		{"two namespaces", []string{"kustomization/" + ns + "/shop", "application/" + ns + "/shop"}, agent.Target{}, true},
	} {
		var refs []agent.Ref
		for _, r := range c.refs {
			refs = append(refs, ref(r))
		}
		got, err := agent.TargetNamespace(ctx, bed.Dynamic(), refs)
		var conflict *agent.ConflictError
		if c.conflicts != errors.As(err, &conflict) || (err != nil && !c.conflicts) {
			t.Errorf("%s: error %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
