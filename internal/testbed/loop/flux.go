package loop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// Flux's API groups and the resources a test usually touches.
var (
	GitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	KustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// ReconcileAnnotation is the annotation that asks a Flux object to
// reconcile now (what `flux reconcile` sets): any new value does.
const ReconcileAnnotation = "reconcile.fluxcd.io/requestedAt"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// StartFlux starts Flux's source-controller and kustomize-controller if
// they do not run yet: it applies their CRDs (server-side), waits until
// they are established, creates the namespace flux-system, starts both
// controllers out of the cluster (KUBECONFIG = the bed's admin kubeconfig,
// RUNTIME_NAMESPACE=flux-system, every address on loopback) and waits until
// both are ready. The bed's binaries must include Flux's (FindBinaries with
// flux). ctx only bounds start-up (at most StartTimeout).
func (c *Cluster) StartFlux(ctx context.Context) (retErr error) {
	c.fluxMu.Lock()
	defer c.fluxMu.Unlock()
	if c.source != nil {
		return nil
	}
	if c.bins.SourceController == "" || c.bins.KustomizeController == "" || len(c.bins.FluxCRDs) == 0 {
		bins, err := FindBinaries(true)
		if err != nil {
			return err
		}
		c.bins = bins
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	var crds []*unstructured.Unstructured
	for _, f := range c.bins.FluxCRDs {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("loop: %w", err)
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("loop: %s: %w", f, err)
		}
		crds = append(crds, objs...)
	}
	if err := c.Apply(ctx, crds); err != nil {
		return fmt.Errorf("loop: applying Flux's CRDs: %w", err)
	}
	for _, crd := range crds {
		if err := c.waitEstablished(ctx, crd.GetName()); err != nil {
			return err
		}
	}
	c.RESTMapper().Reset()
	if err := c.CreateNamespace(ctx, FluxNamespace, nil); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	ports, err := kubetest.FreePorts(5)
	if err != nil {
		return fmt.Errorf("loop: picking free ports: %w", err)
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	storage := filepath.Join(c.Dir(), "flux-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	env := append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "RUNTIME_NAMESPACE="+FluxNamespace)
	var source, kustomize *kubetest.Process
	defer func() {
		if retErr != nil {
			stopAll(0, kustomize, source)
		}
	}()
	if source, err = kubetest.StartProcess("source-controller", c.bins.SourceController, filepath.Join(c.Dir(), "source-controller.log"), env,
		"--metrics-addr="+addr(0),
		"--health-addr="+addr(1),
		"--storage-addr="+addr(2),
		"--storage-adv-addr="+addr(2),
		"--storage-path="+storage,
	); err != nil {
		return err
	}
	if kustomize, err = kubetest.StartProcess("kustomize-controller", c.bins.KustomizeController, filepath.Join(c.Dir(), "kustomize-controller.log"), env,
		"--metrics-addr="+addr(3),
		"--health-addr="+addr(4),
	); err != nil {
		return err
	}
	if err := waitHealthy(ctx, source, "http://"+addr(1)+"/readyz"); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	if err := waitHealthy(ctx, kustomize, "http://"+addr(4)+"/readyz"); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	c.source, c.kustomize = source, kustomize
	c.storageURL = "http://" + addr(2)
	c.fluxStartup = time.Since(began)
	return nil
}

func (c *Cluster) waitEstablished(ctx context.Context, name string) error {
	return poll(ctx, func() (bool, error) {
		crd, err := c.Dynamic().Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	}, func(err error) error { return fmt.Errorf("loop: CRD %s not established: %w", name, err) })
}

// DecodeYAML decodes a multi-document YAML (or JSON) stream into objects,
// skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// ApplyYAML server-side applies every object of a multi-document YAML
// stream (see Apply).
func (c *Cluster) ApplyYAML(ctx context.Context, data []byte) error {
	objs, err := DecodeYAML(data)
	if err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	return c.Apply(ctx, objs)
}

// Apply server-side applies each object for real (field manager
// kubetest.FieldManager, force, strict field validation). Namespaced
// objects without a namespace go to "default". The error joins one error
// per failed object, each naming it.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		if err := c.apply(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", obj.GetKind(), obj.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	ri, err := c.resourceFor(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version, obj.GetNamespace())
	if err != nil {
		return err
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager:    kubetest.FieldManager,
		Force:           &force,
		FieldValidation: metav1.FieldValidationStrict,
	})
	return err
}

func (c *Cluster) resourceFor(gk schema.GroupKind, version, ns string) (dynamic.ResourceInterface, error) {
	mapper := c.RESTMapper()
	mapping, err := mapper.RESTMapping(gk, version)
	if meta.IsNoMatchError(err) {
		mapper.Reset() // a CRD installed since discovery was cached
		mapping, err = mapper.RESTMapping(gk, version)
	}
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.Dynamic().Resource(mapping.Resource), nil
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return c.Dynamic().Resource(mapping.Resource).Namespace(ns), nil
}

// RequestReconcile sets ReconcileAnnotation to the current time on the
// Flux object gvr ns/name (GitRepositoryGVR or KustomizationGVR), as `flux
// reconcile` does, so that its controller reconciles it now instead of at
// its next interval.
func (c *Cluster) RequestReconcile(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ReconcileAnnotation, time.Now().Format(time.RFC3339Nano))
	_, err := c.Dynamic().Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kubetest.FieldManager})
	if err != nil {
		return fmt.Errorf("loop: requesting a reconcile of %s %s/%s: %w", gvr.Resource, ns, name, err)
	}
	return nil
}

// FluxExample returns the file name of examples/gitops/flux (the files a
// user copies) with the replacements made: pairs of old and new text, each
// old text occurring exactly once, so that a change to the example that a
// test no longer understands fails the test instead of testing something
// else.
func FluxExample(tb testing.TB, name string, replace ...string) []byte {
	tb.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "gitops", "flux", name))
	if err != nil {
		tb.Fatal(err)
	}
	text := string(data)
	for i := 0; i+1 < len(replace); i += 2 {
		if n := strings.Count(text, replace[i]); n != 1 {
			tb.Fatalf("examples/gitops/flux/%s: %q occurs %d times, want once", name, replace[i], n)
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	return []byte(text)
}
