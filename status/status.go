package status

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// EndpointSlices is the resource of the Services' endpoints.
var EndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}

// App is the live state of one app.
type App struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// ColorLabel is the label key that carries the color.
	ColorLabel string `json:"colorLabel"`
	// Live is the color the active Service selects; empty when the
	// Service is missing or selects no color.
	Live     string    `json:"live"`
	Colors   []Color   `json:"colors"`
	Services []Service `json:"services"`
	// Traffic is the split of the app's HTTPRoute, when it has one.
	Traffic *Traffic `json:"traffic,omitempty"`
	// Git is what the GitOps repository wants, when asked (CompareWith).
	Git *Wanted `json:"git,omitempty"`
	// Migrations are the app's migration Jobs (spec.migrations), when
	// the role may list Jobs; Contracted is the image its schema was last
	// contracted for (the active Service's bgrender.io/contracted-image).
	Migrations []Migration `json:"migrations,omitempty"`
	Contracted string      `json:"contracted,omitempty"`
}

// Color is one color's Deployment.
type Color struct {
	Color      string `json:"color"`
	Live       bool   `json:"live"`
	Deployment string `json:"deployment"`
	Found      bool   `json:"found"`
	Desired    int32  `json:"desired"`
	Updated    int32  `json:"updated"`
	Ready      int32  `json:"ready"`
	Available  int32  `json:"available"`
	// Images of the pod template's containers.
	Images []string `json:"images"`
	// Rollout is progressing, complete, failed or missing, as the rollout
	// gate sees it; Message says why.
	Rollout string `json:"rollout"`
	Message string `json:"message,omitempty"`
	// Autoscaler is the color's HorizontalPodAutoscaler, when it has one.
	Autoscaler *Autoscaler `json:"autoscaler,omitempty"`
	// ReplicaSet is the Deployment's current ReplicaSet, when asked for
	// (Reader.ReadReplicaSets) and found.
	ReplicaSet *ReplicaSet `json:"replicaSet,omitempty"`
}

// Service is the active or preview Service and its endpoints.
type Service struct {
	Name  string `json:"name"`
	Role  string `json:"role"` // active or preview
	Found bool   `json:"found"`
	// Selects is the color in the Service's selector.
	Selects   string     `json:"selects"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one address behind a Service.
type Endpoint struct {
	Address     string  `json:"address"`
	Ports       []int32 `json:"ports"`
	Ready       bool    `json:"ready"`
	Terminating bool    `json:"terminating,omitempty"`
	Pod         string  `json:"pod,omitempty"`
}

// ReadyEndpoints counts the ready endpoints.
func (s Service) ReadyEndpoints() int {
	n := 0
	for _, e := range s.Endpoints {
		if e.Ready {
			n++
		}
	}
	return n
}

// NotFoundError says that no object of the app exists.
type NotFoundError struct{ App, Namespace string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("app %q not found in namespace %q (no Services or Deployments labeled %s=%s,%s=%s, and no Service %s with the %s annotation or a color in its selector)",
		e.App, e.Namespace, render.LabelName, e.App, render.LabelManagedBy, render.ManagedBy, e.App, render.AnnotationActiveColor)
}

// Reader reads app state. It decodes the API server's JSON straight into
// the typed k8s.io/api structs: for hundreds of apps that is about twice
// as fast as the dynamic client's unstructured maps plus a conversion.
type Reader struct {
	http      *http.Client
	host      *url.URL
	Namespace string
}

// NewReader returns a Reader for the namespace with cfg's credentials.
func NewReader(cfg *rest.Config, namespace string) (*Reader, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("status: API server URL %q: %w", cfg.Host, err)
	}
	return &Reader{http: hc, host: u, Namespace: namespace}, nil
}

// Get returns one app's state, or a *NotFoundError.
func (r *Reader) Get(ctx context.Context, app string) (*App, error) {
	return r.GetWithPreview(ctx, app, "")
}

// GetWithPreview is Get for an app of hand-written manifests whose preview
// Service is named preview, not <app>-preview: a plain folder names its
// Services as it likes, and bgrender finds the preview by its role in Git
// (empty: <app>-preview). An app bgrender rendered keeps its own names.
func (r *Reader) GetWithPreview(ctx context.Context, app, preview string) (*App, error) {
	if preview == "" {
		preview = app + "-preview"
	}
	apps, err := r.read(ctx, render.LabelName+"="+app)
	if err != nil {
		return nil, err
	}
	for i := range apps {
		if apps[i].Name == app {
			return &apps[i], nil
		}
	}
	a, err := r.readPostRendered(ctx, app, preview)
	if err != nil {
		return nil, err
	}
	if a != nil {
		return a, nil
	}
	return nil, &NotFoundError{App: app, Namespace: r.Namespace}
}

// List returns every bgrender app in the namespace, by name.
func (r *Reader) List(ctx context.Context) ([]App, error) {
	return r.read(ctx, "")
}

// objects holds what the three list requests returned.
type objects struct {
	services    []corev1.Service
	deployments []appsv1.Deployment
	slices      []discoveryv1.EndpointSlice
	routes      []route // none when the Gateway API is not installed
	ingresses   []canaryIngress
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	jobs        []batchv1.Job // only the migration Jobs
}

func (r *Reader) read(ctx context.Context, extraSelector string) ([]App, error) {
	sel := render.LabelManagedBy + "=" + render.ManagedBy
	if extraSelector != "" {
		sel += "," + extraSelector
	}
	var objs objects
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(7)
	go func() {
		defer wg.Done()
		// Optional: a role that may not list Jobs shows no migrations.
		var l batchv1.JobList
		if r.list(ctx, Jobs, labelQuery(sel+","+render.LabelMigration), &l) == nil {
			objs.jobs = l.Items
		}
	}()
	go func() {
		defer wg.Done()
		// Optional too: a role that may not list HPAs shows none.
		var l autoscalingv2.HorizontalPodAutoscalerList
		if r.list(ctx, HorizontalPodAutoscalers, labelQuery(sel), &l) == nil {
			objs.hpas = l.Items
		}
	}()
	go func() {
		defer wg.Done()
		// Like routes, optional: only the NGINX canary mode needs them.
		var l canaryIngressList
		if r.list(ctx, Ingresses, labelQuery(sel), &l) == nil {
			objs.ingresses = l.Items
		}
	}()
	go func() {
		defer wg.Done()
		// Routes are optional: a cluster without the Gateway API, or a
		// role without the permission, shows no traffic split.
		var l routeList
		if r.list(ctx, HTTPRoutes, labelQuery(sel), &l) == nil {
			objs.routes = l.Items
		}
	}()
	go func() {
		defer wg.Done()
		var l corev1.ServiceList
		errs[0] = r.list(ctx, cluster.Services, labelQuery(sel), &l)
		objs.services = l.Items
	}()
	go func() {
		defer wg.Done()
		var l appsv1.DeploymentList
		errs[1] = r.list(ctx, cluster.Deployments, labelQuery(sel), &l)
		objs.deployments = l.Items
	}()
	go func() {
		defer wg.Done()
		var l discoveryv1.EndpointSliceList
		errs[2] = r.list(ctx, EndpointSlices, labelQuery(sel), &l)
		objs.slices = l.Items
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return assemble(r.Namespace, objs), nil
}

func labelQuery(selector string) url.Values { return url.Values{"labelSelector": {selector}} }

// list lists one kind in the namespace with one request (query holds its
// label or field selector) and decodes the answer into out, a typed list.
func (r *Reader) list(ctx context.Context, gvr schema.GroupVersionResource, query url.Values, out any) error {
	err := r.get(ctx, gvr, query, out)
	if err == nil {
		return nil
	}
	what := gvr.Resource
	if gvr.Group != "" {
		what += "." + gvr.Group
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("list %s in namespace %s: %w (bgrender status needs list on services, deployments.apps and endpointslices.discovery.k8s.io)", what, r.Namespace, err)
	}
	return fmt.Errorf("list %s in namespace %s: %w", what, r.Namespace, err)
}

func (r *Reader) get(ctx context.Context, gvr schema.GroupVersionResource, query url.Values, out any) error {
	prefix := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		prefix = "/api/" + gvr.Version
	}
	u := r.host.JoinPath(prefix, "namespaces", r.Namespace, gvr.Resource)
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var st metav1.Status
		if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
			return apierrors.FromObject(&st)
		}
		return apierrors.NewGenericServerResponse(resp.StatusCode, http.MethodGet, gvr.GroupResource(), "", strings.TrimSpace(string(body)), 0, false)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// assemble groups the objects by app (label app.kubernetes.io/name).
func assemble(ns string, objs objects) []App {
	type parts struct {
		services    map[string]*corev1.Service
		deployments map[string]*appsv1.Deployment
		slices      map[string][]*discoveryv1.EndpointSlice // by service name
	}
	byApp := map[string]*parts{}
	get := func(m metav1.Object) *parts {
		name := m.GetLabels()[render.LabelName]
		if name == "" {
			return nil
		}
		p := byApp[name]
		if p == nil {
			p = &parts{services: map[string]*corev1.Service{}, deployments: map[string]*appsv1.Deployment{}, slices: map[string][]*discoveryv1.EndpointSlice{}}
			byApp[name] = p
		}
		return p
	}
	for i := range objs.services {
		if p := get(&objs.services[i]); p != nil {
			p.services[objs.services[i].Name] = &objs.services[i]
		}
	}
	for i := range objs.deployments {
		if p := get(&objs.deployments[i]); p != nil {
			p.deployments[objs.deployments[i].Name] = &objs.deployments[i]
		}
	}
	for i := range objs.slices {
		s := &objs.slices[i]
		if p := byApp[s.Labels[render.LabelName]]; p != nil {
			svc := s.Labels[discoveryv1.LabelServiceName]
			p.slices[svc] = append(p.slices[svc], s)
		}
	}

	routes := routesByApp(objs.routes)
	canaries := canariesByApp(objs.ingresses)
	hpas := autoscalersByApp(objs.hpas)
	colorLabels := map[string]string{}
	apps := make([]App, 0, len(byApp))
	for name, p := range byApp {
		if len(p.services) == 0 && len(p.deployments) == 0 {
			continue
		}
		app := buildApp(ns, name, name+"-preview", p.services[name], p.services[name+"-preview"],
			p.deployments[name+"-blue"], p.deployments[name+"-green"], p.slices)
		if rt := routes[name]; rt != nil {
			app.Traffic = rt.traffic(name)
		} else if c := canaries[name]; c != nil {
			app.Traffic = c.traffic(name)
		}
		attachAutoscalers(&app, hpas[name])
		if svc := p.services[name]; svc != nil {
			app.Contracted = svc.Annotations[render.AnnotationContractedImage]
		}
		colorLabels[name] = app.ColorLabel
		apps = append(apps, app)
	}
	migrations := migrationsByApp(objs.jobs, func(app string) string { return colorLabels[app] })
	for i := range apps {
		apps[i].Migrations = migrations[apps[i].Name]
	}
	slices.SortFunc(apps, func(a, b App) int { return cmp.Compare(a.Name, b.Name) })
	return apps
}

// buildApp puts together one app's state from its Services, Deployments
// and the EndpointSlices of its Services (by Service name).
func buildApp(ns, name, previewName string, active, preview *corev1.Service, blue, green *appsv1.Deployment, eps map[string][]*discoveryv1.EndpointSlice) App {
	app := App{Name: name, Namespace: ns}
	app.ColorLabel = colorLabel(active, preview, blue, green)
	app.Services = []Service{
		service(name, "active", active, app.ColorLabel, eps[name]),
		service(previewName, "preview", preview, app.ColorLabel, eps[previewName]),
	}
	app.Live = app.Services[0].Selects
	if !spec.Color(app.Live).Valid() {
		app.Live = "" // the selector holds no color
	}
	app.Colors = []Color{
		color(name, spec.Blue, blue, app.Live),
		color(name, spec.Green, green, app.Live),
	}
	return app
}

// colorLabel finds the selector key whose value is a color: in the active
// Service, else the preview Service, else where the blue and green
// Deployments' selectors differ; the default key when nothing tells.
func colorLabel(active, preview *corev1.Service, blue, green *appsv1.Deployment) string {
	for _, svc := range []*corev1.Service{active, preview} {
		if svc == nil {
			continue
		}
		if k := colorKey(svc.Spec.Selector); k != "" {
			return k
		}
	}
	for _, d := range []*appsv1.Deployment{blue, green} {
		if d != nil && d.Spec.Selector != nil {
			if k := colorKey(d.Spec.Selector.MatchLabels); k != "" {
				return k
			}
		}
	}
	return spec.DefaultColorLabel
}

// colorKey is the selector key whose value is blue or green; the default
// color label wins a tie.
func colorKey(sel map[string]string) string {
	var keys []string
	for k, v := range sel {
		if spec.Color(v).Valid() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	if slices.Contains(keys, spec.DefaultColorLabel) {
		return spec.DefaultColorLabel
	}
	sort.Strings(keys)
	return keys[0]
}

func service(name, role string, svc *corev1.Service, colorLabel string, eps []*discoveryv1.EndpointSlice) Service {
	s := Service{Name: name, Role: role, Found: svc != nil, Endpoints: []Endpoint{}}
	if svc != nil {
		s.Selects = svc.Spec.Selector[colorLabel]
	}
	for _, sl := range eps {
		var ports []int32
		for _, p := range sl.Ports {
			if p.Port != nil {
				ports = append(ports, *p.Port)
			}
		}
		for _, ep := range sl.Endpoints {
			for _, addr := range ep.Addresses {
				e := Endpoint{
					Address:     addr,
					Ports:       ports,
					Ready:       ep.Conditions.Ready == nil || *ep.Conditions.Ready,
					Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating,
				}
				if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
					e.Pod = ep.TargetRef.Name
				}
				s.Endpoints = append(s.Endpoints, e)
			}
		}
	}
	// The same address may appear in two slices (while one replaces the
	// other): count it once. Addresses sort as addresses, not strings.
	slices.SortFunc(s.Endpoints, func(a, b Endpoint) int {
		pa, ea := netip.ParseAddr(a.Address)
		pb, eb := netip.ParseAddr(b.Address)
		if ea == nil && eb == nil {
			if c := pa.Compare(pb); c != 0 {
				return c
			}
		} else if c := cmp.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		return cmp.Compare(a.Pod, b.Pod)
	})
	s.Endpoints = slices.CompactFunc(s.Endpoints, func(a, b Endpoint) bool { return a.Address == b.Address })
	return s
}

func color(app string, c spec.Color, d *appsv1.Deployment, live string) Color {
	out := Color{Color: string(c), Live: string(c) == live, Deployment: app + "-" + string(c), Images: []string{}}
	if d != nil {
		out.Deployment = d.Name
	}
	if d == nil {
		out.Rollout = "missing"
		out.Message = "deployment not found"
		return out
	}
	out.Found = true
	out.Desired = 1
	if d.Spec.Replicas != nil {
		out.Desired = *d.Spec.Replicas
	}
	out.Updated = d.Status.UpdatedReplicas
	out.Ready = d.Status.ReadyReplicas
	out.Available = d.Status.AvailableReplicas
	for _, ctr := range d.Spec.Template.Spec.Containers {
		out.Images = append(out.Images, ctr.Image)
	}
	state, msg := gate.Rollout(d)
	out.Rollout = string(state)
	out.Message = msg
	return out
}
