package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the field manager of ApplyDryRun.
const FieldManager = "bgrender-test"

// clients are the API clients the helpers share. Their warning handler
// records into the collector carried by the request's context, so concurrent
// calls each see only their own warnings.
type clients struct {
	http   *http.Client
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newClients(cfg *rest.Config) (*clients, error) {
	cfg.WarningHandlerWithContext = contextWarningHandler{}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &clients{
		http:   hc,
		dyn:    dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}, nil
}

func (c *clients) close() { c.http.CloseIdleConnections() }

type warningCollectorKey struct{}

type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (c *warningCollector) add(msg string) {
	c.mu.Lock()
	c.msgs = append(c.msgs, msg)
	c.mu.Unlock()
}

func (c *warningCollector) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := c.msgs
	c.msgs = nil
	return msgs
}

// contextWarningHandler hands each API warning to the collector in the
// request's context, if any, and drops it otherwise.
type contextWarningHandler struct{}

func (contextWarningHandler) HandleWarningHeaderWithContext(ctx context.Context, _ int, _ string, text string) {
	if c, ok := ctx.Value(warningCollectorKey{}).(*warningCollector); ok {
		c.add(text)
	}
}

// Dynamic returns the dynamic client the helpers use (admin, no rate limit).
func (s *Server) Dynamic() dynamic.Interface { return s.client.dyn }

// RESTMapper returns a RESTMapper backed by the server's discovery
// information (cached; reset it after installing CRDs).
func (s *Server) RESTMapper() *restmapper.DeferredDiscoveryRESTMapper { return s.client.mapper }

// CreateNamespace creates the namespace name with the given labels. An
// existing namespace is an error (apierrors.IsAlreadyExists).
func (s *Server) CreateNamespace(ctx context.Context, name string, labels map[string]string) error {
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata":   map[string]any{"name": name},
	}}
	if len(labels) > 0 {
		ns.SetLabels(labels)
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := s.client.dyn.Resource(gvr).Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("kubetest: creating namespace %s: %w", name, err)
	}
	return nil
}

// NewNamespace creates a namespace for one test and returns its name: base
// the first time, base-2, base-3, ... when the same test runs again on
// this server (go test -count). It fails the test if it cannot.
func (s *Server) NewNamespace(t testing.TB, ctx context.Context, base string, labels map[string]string) string {
	t.Helper()
	s.nsMu.Lock()
	if s.nsUsed == nil {
		s.nsUsed = map[string]int{}
	}
	s.nsUsed[base]++
	name := base
	if n := s.nsUsed[base]; n > 1 {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	s.nsMu.Unlock()
	if err := s.CreateNamespace(ctx, name, labels); err != nil {
		t.Fatal(err)
	}
	return name
}

// ApplyDryRun server-side applies each object (field manager FieldManager,
// force, dryRun=All, fieldValidation=Strict), so the API server validates,
// defaults and admits it without storing anything. Namespaced objects without
// a namespace go to "default".
//
// It returns every warning the server sent (for example Pod Security
// warnings), each prefixed with "Kind/name: ". Objects are applied in order
// and all of them are tried; the error joins one error per failed object,
// each naming the object.
func (s *Server) ApplyDryRun(ctx context.Context, objs []*unstructured.Unstructured) (warnings []string, err error) {
	var errs []error
	for _, obj := range objs {
		if obj == nil {
			continue
		}
		id := objectID(obj)
		col := &warningCollector{}
		aerr := s.applyDryRun(context.WithValue(ctx, warningCollectorKey{}, col), obj)
		for _, w := range col.take() {
			warnings = append(warnings, id+": "+w)
		}
		if aerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, aerr))
		}
	}
	return warnings, errors.Join(errs...)
}

func (s *Server) applyDryRun(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return errors.New("object has no apiVersion or kind")
	}
	name := obj.GetName()
	if name == "" {
		return errors.New("object has no metadata.name (server-side apply needs one)")
	}
	mapping, err := s.client.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// The kind may be new (a CRD installed since discovery was cached).
		s.client.mapper.Reset()
		mapping, err = s.client.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = s.client.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		ri = s.client.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	data, err := obj.MarshalJSON() // JSON is YAML, as apply-patch+yaml wants
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, name, types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager:    FieldManager,
		DryRun:          []string{metav1.DryRunAll},
		Force:           &force,
		FieldValidation: metav1.FieldValidationStrict,
	})
	return err
}

// objectID is "Kind/name" for messages.
func objectID(obj *unstructured.Unstructured) string {
	kind := obj.GetKind()
	if kind == "" {
		kind = "<no kind>"
	}
	name := obj.GetName()
	if name == "" {
		name = "<no name>"
	}
	return kind + "/" + name
}
