package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

// Argo Rollouts, whose CRDs the tests install: downloaded into the Go
// module cache by hack/install-tools.sh argo-rollouts.
const (
	argoRolloutsModule  = "github.com/argoproj/argo-rollouts"
	argoRolloutsVersion = "v1.10.2"
	argoRolloutsCRDs    = "manifests/crds"
)

var argoCRDs struct {
	sync.Mutex
	installed bool
}

// requireArgoRollouts installs Argo Rollouts' CRDs (Rollout,
// AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun, Experiment) in
// the test API server once per test binary. A missing module fails the
// test; it is skipped only under go test -short, and never when CI=true.
func requireArgoRollouts(t *testing.T, srv *kubetest.Server) {
	t.Helper()
	argoCRDs.Lock()
	defer argoCRDs.Unlock()
	if argoCRDs.installed {
		return
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	var files []string
	if err == nil {
		// "argoproj/argo-rollouts" has no upper-case letters: the cache's
		// case encoding leaves the path as it is.
		files, _ = filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), argoRolloutsModule+"@"+argoRolloutsVersion, argoRolloutsCRDs, "*-crd.yaml"))
	}
	if len(files) == 0 {
		msg := fmt.Sprintf("Argo Rollouts CRDs: no %s/*-crd.yaml of %s@%s in the Go module cache (%v): run hack/install-tools.sh argo-rollouts (make tools)", argoRolloutsCRDs, argoRolloutsModule, argoRolloutsVersion, err)
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip(msg + "; skipped under -short")
		}
		t.Fatal(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			crd := &unstructured.Unstructured{Object: m}
			if crd.GetKind() != "CustomResourceDefinition" {
				continue
			}
			raw, err := crd.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Dynamic().Resource(crdGVR).Patch(ctx, crd.GetName(), types.ApplyPatchType, raw, metav1.PatchOptions{
				FieldManager: kubetest.FieldManager, Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict,
			}); err != nil {
				t.Fatalf("installing CRD %s: %v", crd.GetName(), err)
			}
			names = append(names, crd.GetName())
		}
	}
	for _, n := range names {
		waitEstablished(t, ctx, srv, n)
	}
	srv.RESTMapper().Reset()
	argoCRDs.installed = true
}

// rolloutSpecs are every example and the gated spec of testdata/rollouts.
func rolloutSpecs(t *testing.T) map[string][]*spec.BlueGreenApp {
	t.Helper()
	paths, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil || len(paths) < 3 {
		t.Fatalf("examples: %v (%d found)", err, len(paths))
	}
	out := map[string][]*spec.BlueGreenApp{"gates": loadExample(t, "../testdata/rollouts/gates.yaml")}
	for _, p := range paths {
		out[filepath.Base(filepath.Dir(p))] = loadExample(t, p)
	}
	return out
}

// manifests turns rendered objects into unstructured ones in namespace ns
// (when they name none).
func manifests(t *testing.T, objs []render.Object, ns string) []*unstructured.Unstructured {
	t.Helper()
	var items []*unstructured.Unstructured
	for _, o := range objs {
		m, err := render.Manifest(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: plainJSON(t, m)}
		if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		items = append(items, u)
	}
	return items
}

var restricted = map[string]string{
	"pod-security.kubernetes.io/warn":    "restricted",
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/audit":   "restricted",
}

// TestRolloutFormatAcceptedByAPIServer installs Argo Rollouts' CRDs
// (v1.10.2, with their OpenAPI schemas) and applies every example, and the
// gated spec, rendered with --format argo-rollouts, by server-side apply
// with dryRun=All and strict field validation: no error and no warning.
// Pod Security does not look into a Rollout, so the Rollout's pod template
// is also applied as a Pod in a namespace that enforces the restricted
// standard.
func TestRolloutFormatAcceptedByAPIServer(t *testing.T) {
	srv := kubetest.Require(t)
	requireArgoRollouts(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, apps := range rolloutSpecs(t) {
		t.Run(name, func(t *testing.T) {
			// A namespace of its own (other tests use the examples'), that
			// enforces the restricted Pod Security Standard.
			ns := srv.NewNamespace(t, ctx, "rollouts-"+name, restricted)
			items := manifests(t, rollouts.Render(apps), ns)
			kinds := map[string]int{}
			for _, u := range items {
				u.SetNamespace(ns)
				kinds[u.GetKind()]++
				if u.GetKind() == "Rollout" {
					items = append(items, podOf(t, u))
				}
			}
			warnings, err := srv.ApplyDryRun(ctx, items)
			if err != nil {
				t.Fatalf("the API server rejected the %s example as a Rollout: %v", name, err)
			}
			if len(warnings) > 0 {
				t.Errorf("the API server warned about the %s example as a Rollout:\n%s", name, strings.Join(warnings, "\n"))
			}
			if kinds["Rollout"] != 1 || kinds["Service"] != 2 || kinds["Deployment"] != 0 || kinds["NetworkPolicy"] != 1 {
				t.Errorf("rendered kinds %v", kinds)
			}
			if name == "gates" && kinds["AnalysisTemplate"] != 2 {
				t.Errorf("the gated spec rendered %d AnalysisTemplates, want 2", kinds["AnalysisTemplate"])
			}
		})
	}
}

// podOf is the Rollout's pod template in a Deployment, which Pod Security
// checks (a dry-run Pod would need the ServiceAccount to exist).
func podOf(t *testing.T, rollout *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	tmpl, ok, err := unstructured.NestedMap(rollout.Object, "spec", "template")
	if !ok || err != nil {
		t.Fatalf("Rollout without spec.template: %v", err)
	}
	sel, _, _ := unstructured.NestedMap(rollout.Object, "spec", "selector")
	d := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"spec": map[string]any{"selector": sel, "template": tmpl},
	}}
	d.SetName(rollout.GetName() + "-pod-template")
	d.SetNamespace(rollout.GetNamespace())
	return d
}

// TestRolloutCRDValidationBites shows that the check above can fail: an
// unknown field of the blueGreen strategy is rejected, and a root
// container in the pod template draws a Pod Security warning.
func TestRolloutCRDValidationBites(t *testing.T) {
	srv := kubetest.Require(t)
	requireArgoRollouts(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "rollouts-negative", map[string]string{"pod-security.kubernetes.io/warn": "restricted"})
	var rollout *unstructured.Unstructured
	for _, u := range manifests(t, rollouts.Render(loadExample(t, "../examples/minimal/app.yaml")), ns) {
		if u.GetKind() == "Rollout" {
			rollout = u
		}
	}
	typo := rollout.DeepCopy()
	if err := unstructured.SetNestedField(typo.Object, "hello", "spec", "strategy", "blueGreen", "activeServce"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{typo}); err == nil || !strings.Contains(err.Error(), "activeServce") {
		t.Errorf("a Rollout with an unknown field was not rejected: %v", err)
	}
	pod := podOf(t, rollout)
	if err := unstructured.SetNestedField(pod.Object, true, "spec", "template", "spec", "hostNetwork"); err != nil {
		t.Fatal(err)
	}
	warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{pod})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) == 0 {
		t.Errorf("a pod template with hostNetwork drew no Pod Security warning")
	}
}
