package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// agentApply applies every object of the app folder at main (what Flux
// would apply at that revision) to the API server, in file order.
func agentApply(t *testing.T, ctx context.Context, srv *kubetest.Server, r *gitopsRepo, ns string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "clone", "--quiet", r.srv.RepoDir(r.name), dir)
	if err := applyDir(ctx, srv, filepath.Join(dir, filepath.FromSlash(appPath)), ns); err != nil {
		t.Fatal(err)
	}
}

// applyDir applies every namespaced object of the app folder dir to
// namespace ns, in file order, as the GitOps agent would (bgrender.yaml
// and kustomization.yaml are not objects of the cluster; a kind the API
// server does not serve is skipped).
func applyDir(ctx context.Context, srv *kubetest.Server, dir, ns string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if filepath.Base(f) == promote.SpecFile || filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if obj.Object == nil || obj.GetKind() == "" {
				continue
			}
			gvk := obj.GroupVersionKind()
			m, err := srv.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil || m.Scope.Name() != meta.RESTScopeNameNamespace {
				continue
			}
			obj.SetNamespace(ns)
			body, _ := obj.MarshalJSON()
			force := true
			ri := srv.Dynamic().Resource(m.Resource).Namespace(ns)
			if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "test-agent", Force: &force}); err != nil {
				return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}
	}
	return nil
}

func liveSelector(t *testing.T, ctx context.Context, srv *kubetest.Server, ns, svc string) string {
	t.Helper()
	u, err := srv.Dynamic().Resource(live.Services).Namespace(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := unstructured.NestedString(u.Object, "spec", "selector", "version")
	if v == "" {
		v, _, _ = unstructured.NestedString(u.Object, "spec", "selector", "bgrender.io/color")
	}
	return v
}

func liveCanary(t *testing.T, ctx context.Context, srv *kubetest.Server, ns, name string) string {
	t.Helper()
	u, err := srv.Dynamic().Resource(live.Ingresses).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	paths, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "http", "paths")
	svc, _, _ := unstructured.NestedString(paths[0].(map[string]any), "backend", "service", "name")
	return u.GetAnnotations()[render.AnnotationCanaryWeight] + "% to " + svc
}

// managedNGINXRepoIn is a managed folder in namespace ns in the NGINX mode.
func managedNGINXRepoIn(t *testing.T, ns, traffic string) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	app := filepath.Join(seed, filepath.FromSlash(appPath))
	writeManaged(t, app, "my-application")
	setNamespace(t, app, promote.SpecFile, ns)
	p := filepath.Join(app, promote.SpecFile)
	data, _ := os.ReadFile(p)
	data = append(data, traffic...)
	os.WriteFile(p, data, 0o644)
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(app, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}

var serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

// serve gives service ready endpoints of color, as the EndpointSlice
// controller would once the Service selects it: pods of app's labels.
func serve(t *testing.T, ctx context.Context, srv *kubetest.Server, app *spec.BlueGreenApp, service string, c spec.Color) {
	t.Helper()
	eps := []apptest.Endpoint{}
	for i, ip := range []string{"10.0.9.1", "10.0.9.2"} {
		eps = append(eps, apptest.Endpoint{Pod: service + "-" + string(c) + "-" + string(rune('a'+i)), IP: ip, Ready: true})
	}
	if c == spec.Blue {
		eps[0].IP, eps[1].IP = "10.0.8.1", "10.0.8.2"
	}
	if err := apptest.CreateEndpoints(ctx, srv.Dynamic(), app, service, c, 8080, eps...); err != nil {
		t.Fatal(err)
	}
}

// TestHandoverResumeWaits: a hand-over whose flip is in Git but not yet
// served (the run killed, or its wait timed out, before the agent applied
// it). A re-run must not push the hand-over's end until the cluster serves
// the flip, or the agent could apply both at once, canary first, and send
// every request back to blue: it exits 1 and commits nothing; once the
// agent has applied the flip, the re-run ends the hand-over. The same on
// the article's plain manifests, where the last commit moves the preview
// Service the canary sends to: not before the cluster's canary is at 0%.
func TestHandoverResumeWaits(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	steps := []string{"promote", "--steps", "100", "--to", "green", "--kubeconfig", kubeconfig, "--live-timeout", "2s"}

	t.Run("managed", func(t *testing.T) {
		ns := srv.NewNamespace(t, ctx, "resume-managed", nil)
		r := managedNGINXRepoIn(t, ns, "  traffic:\n    weight: 0\n    nginx: {}\n")
		r.mustRun(t, "shift", "--weight", "100")
		agentApply(t, ctx, srv, r, ns) // the cluster serves the canary at 100%
		// The flip is pushed; its wait times out: the agent is slow.
		if res := r.run(t, steps...); res.code != 1 || !strings.Contains(res.stderr, "a re-run with --to green resumes") {
			t.Fatalf("the first run: exit %d\n%s", res.code, res.stderr)
		}
		if !strings.Contains(r.file(t, promote.SpecFile), "canaryColor: green") {
			t.Fatal("the flip is not in Git")
		}
		before := r.commits(t)
		res := r.run(t, steps...)
		if res.code != 1 || !strings.Contains(res.stderr, "the flip of the hand-over is not served yet") || r.commits(t) != before {
			t.Fatalf("the re-run before the agent applied the flip: exit %d, %d new commits\n%s", res.code, r.commits(t)-before, res.stderr)
		}
		agentApply(t, ctx, srv, r, ns) // the flip
		apps, err := spec.Load(promote.SpecFile, []byte(r.file(t, promote.SpecFile)))
		if err != nil {
			t.Fatal(err)
		}
		serve(t, ctx, srv, apps[0], "my-application", spec.Green)
		if res := r.run(t, steps...); res.code != 1 || r.commits(t) != before+1 {
			// The end is pushed; its own wait times out (no agent applies it).
			t.Fatalf("the re-run after the flip was served: exit %d, %d new commits\n%s", res.code, r.commits(t)-before, res.stderr)
		}
		if sp := r.file(t, promote.SpecFile); strings.Contains(sp, "canaryColor") || !strings.Contains(sp, "weight: 0") {
			t.Errorf("the hand-over did not end:\n%s", sp)
		}
		agentApply(t, ctx, srv, r, ns)
		if res := r.run(t, steps...); res.code != 0 || !strings.Contains(res.stderr, "nothing to do") || r.commits(t) != before+1 {
			t.Errorf("a re-run after the end: exit %d\n%s", res.code, res.stderr)
		}
	})

	t.Run("plain", func(t *testing.T) {
		ns := srv.NewNamespace(t, ctx, "resume-plain", nil)
		r := newGitopsRepo(t, "plain-canary", 0)
		for _, f := range []string{"service.yaml", "service-preview.yaml", "ingress.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
			old := r.file(t, f)
			r.handCommit(t, f, old, strings.ReplaceAll(old, "namespace: production", "namespace: "+ns))
		}
		r.mustRun(t, "shift", "--weight", "100")
		agentApply(t, ctx, srv, r, ns)
		pods, err := apptest.Spec("application", ns, 3, "  colorLabel: version", "  selectorLabels: {app: my-application}")
		if err != nil {
			t.Fatal(err)
		}
		sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "application", "namespace": ns}}}
		if _, err := srv.Dynamic().Resource(serviceAccounts).Namespace(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		serve(t, ctx, srv, pods, "application-service", spec.Green)
		serve(t, ctx, srv, pods, "application-service-preview", spec.Blue)
		// Each run pushes at most one commit beyond what the cluster serves.
		for i := 0; i < 4; i++ {
			before := r.commits(t)
			res := r.run(t, steps...)
			served := map[string]string{
				"live": liveSelector(t, ctx, srv, ns, "application-service"), "preview": liveSelector(t, ctx, srv, ns, "application-service-preview"),
				"canary": liveCanary(t, ctx, srv, ns, "application-ingress-canary")}
			t.Logf("run %d: exit %d, %d new commits; the cluster: %v\n%s", i+1, res.code, r.commits(t)-before, served, res.stderr)
			if r.commits(t)-before > 1 {
				t.Fatalf("run %d pushed %d commits while the agent applied none", i+1, r.commits(t)-before)
			}
			if strings.Contains(r.file(t, "service-preview.yaml"), "version: blue") && served["canary"] != "0% to application-service-preview" {
				t.Fatalf("the preview Service moved to blue in Git while the cluster's canary sends %s: applied Services first, every request goes to blue", served["canary"])
			}
			agentApply(t, ctx, srv, r, ns)
		}
		if !strings.Contains(r.file(t, "service-preview.yaml"), "version: blue") || !strings.Contains(r.file(t, "service.yaml"), "version: green") {
			t.Errorf("the hand-over did not end")
		}
	})
}
