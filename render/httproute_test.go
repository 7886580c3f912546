package render_test

import (
	"bytes"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func gatewayApp(t testing.TB) *spec.BlueGreenApp { return load(t, "../examples/gateway/app.yaml")[0] }

// routeOf renders the app and returns its HTTPRoute and its YAML.
func routeOf(t *testing.T, app *spec.BlueGreenApp) (*gatewayv1.HTTPRoute, []byte) {
	t.Helper()
	var route *gatewayv1.HTTPRoute
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if r, ok := o.(*gatewayv1.HTTPRoute); ok {
			if route != nil {
				t.Fatal("two HTTPRoutes")
			}
			route = r
		}
	}
	if route == nil {
		t.Fatal("no HTTPRoute rendered")
	}
	data, err := render.EncodeYAML(route)
	if err != nil {
		t.Fatal(err)
	}
	return route, data
}

// weights returns the main rule's weight per backend Service.
func weights(t *testing.T, r *gatewayv1.HTTPRoute) map[string]int32 {
	t.Helper()
	main := r.Spec.Rules[len(r.Spec.Rules)-1]
	out := map[string]int32{}
	var order []string
	for _, b := range main.BackendRefs {
		out[string(b.Name)] = *b.Weight
		order = append(order, string(b.Name))
	}
	if len(order) != 2 || order[0] != "my-application-blue" || order[1] != "my-application-green" {
		t.Errorf("main rule's backends %v, want blue then green", order)
	}
	return out
}

func TestHTTPRouteSplitsByWeight(t *testing.T) {
	app := gatewayApp(t)
	r, _ := routeOf(t, app)
	if r.APIVersion != "gateway.networking.k8s.io/v1" || r.Kind != "HTTPRoute" || r.Name != "my-application" || r.Namespace != "production" {
		t.Fatalf("route %s %s %s/%s", r.APIVersion, r.Kind, r.Namespace, r.Name)
	}
	if got := weights(t, r); !maps.Equal(got, map[string]int32{"my-application-blue": 90, "my-application-green": 10}) {
		t.Errorf("weights %v, want blue 90 green 10", got)
	}
	if len(r.Spec.Rules) != 3 {
		t.Fatalf("%d rules, want 3 (a header rule per color, then the split)", len(r.Spec.Rules))
	}
	for i, c := range spec.Colors {
		rule := r.Spec.Rules[i]
		m := rule.Matches[0]
		if len(m.Headers) != 1 || string(m.Headers[0].Name) != spec.DefaultTrafficHeader || m.Headers[0].Value != string(c) || *m.Headers[0].Type != gatewayv1.HeaderMatchExact {
			t.Errorf("rule %d matches %+v, want header %s: %s (Exact)", i, m.Headers, spec.DefaultTrafficHeader, c)
		}
		if *m.Path.Type != gatewayv1.PathMatchPathPrefix || *m.Path.Value != "/" {
			t.Errorf("rule %d path %s %s", i, *m.Path.Type, *m.Path.Value)
		}
		if len(rule.BackendRefs) != 1 || string(rule.BackendRefs[0].Name) != "my-application-"+string(c) {
			t.Errorf("rule %d backends %+v, want only %s's Service", i, rule.BackendRefs, c)
		}
	}
	// Every field the API server defaults is written out.
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if b.Group == nil || *b.Group != "" || b.Kind == nil || *b.Kind != "Service" || b.Weight == nil || b.Port == nil || *b.Port != 80 {
				t.Errorf("backendRef %s lacks a defaulted field: %+v", b.Name, b.BackendRef)
			}
		}
	}
	p := r.Spec.ParentRefs[0]
	if p.Group == nil || *p.Group != gatewayv1.GroupName || p.Kind == nil || *p.Kind != "Gateway" || p.Namespace == nil || *p.Namespace != "gateway-system" || p.Name != "public" {
		t.Errorf("parentRef %+v", p)
	}
	for _, w := range []int32{0, 100} {
		app.Spec.Traffic.Weight = ptr.To(w)
		r, _ := routeOf(t, app)
		if got := weights(t, r); got["my-application-blue"] != 100-w || got["my-application-green"] != w {
			t.Errorf("weight %d: %v", w, got)
		}
	}
}

// TestHTTPRouteNamesColors: the route names colors, not active/preview, so
// the promotion's last step (all traffic on green at weight 100 with blue
// active, then green active at weight 0) changes no byte of it, nor of the
// per-color Services.
func TestHTTPRouteNamesColors(t *testing.T) {
	before := gatewayApp(t)
	before.Spec.Traffic.Weight = ptr.To(int32(100))
	after := gatewayApp(t)
	after.Spec.Active = spec.Green
	after.Spec.Traffic.Weight = ptr.To(int32(0))
	_, a := routeOf(t, before)
	_, b := routeOf(t, after)
	if !bytes.Equal(a, b) {
		t.Errorf("the route differs after the flip:\n%s\n---\n%s", a, b)
	}
	for i, c := range spec.Colors {
		x, _ := render.EncodeYAML(render.ColorServices(before)[i])
		y, _ := render.EncodeYAML(render.ColorServices(after)[i])
		if !bytes.Equal(x, y) {
			t.Errorf("Service of %s differs after the flip:\n%s\n---\n%s", c, x, y)
		}
	}
}

func TestColorServicesSelectOneColor(t *testing.T) {
	app := gatewayApp(t)
	objs := render.Render([]*spec.BlueGreenApp{app})
	var active *corev1.Service
	colors := map[string]*corev1.Service{}
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			switch svc.Name {
			case "my-application":
				active = svc
			case "my-application-blue", "my-application-green":
				colors[svc.Name] = svc
			}
		}
	}
	if active == nil || len(colors) != 2 {
		t.Fatalf("active %v, per-color Services %d", active != nil, len(colors))
	}
	for _, c := range spec.Colors {
		svc := colors["my-application-"+string(c)]
		if !maps.Equal(svc.Spec.Selector, render.SelectorLabels(app, c)) {
			t.Errorf("%s selects %v", svc.Name, svc.Spec.Selector)
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("%s type %s", svc.Name, svc.Spec.Type)
		}
		if svc.Labels[app.Spec.ColorLabel] != string(c) || svc.Labels[render.LabelManagedBy] != render.ManagedBy {
			t.Errorf("%s labels %v", svc.Name, svc.Labels)
		}
		if len(svc.Spec.Ports) != len(active.Spec.Ports) {
			t.Fatalf("%s ports %v", svc.Name, svc.Spec.Ports)
		}
		for i, p := range svc.Spec.Ports {
			if p != active.Spec.Ports[i] {
				t.Errorf("%s port %+v, the active Service's %+v", svc.Name, p, active.Spec.Ports[i])
			}
		}
	}
	// Without spec.traffic, neither the route nor the per-color Services.
	for _, o := range render.Render([]*spec.BlueGreenApp{seed(t)}) {
		if o.GetObjectKind().GroupVersionKind().Kind == "HTTPRoute" || o.GetName() == "my-application-blue" && o.GetObjectKind().GroupVersionKind().Kind == "Service" {
			t.Errorf("seed renders %s %s", o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
		}
	}
}

// TestHTTPRouteSortsAfterIngress: the route is applied last, after the
// Services it sends to.
func TestHTTPRouteSortsAfterIngress(t *testing.T) {
	app := gatewayApp(t)
	app.Spec.Ingress = &spec.IngressSpec{Host: "old.example.com", Path: "/", PathType: "Prefix"}
	objs := render.Render([]*spec.BlueGreenApp{app})
	last := objs[len(objs)-1].GetObjectKind().GroupVersionKind().Kind
	before := objs[len(objs)-2].GetObjectKind().GroupVersionKind().Kind
	if last != "HTTPRoute" || before != "Ingress" {
		t.Errorf("last kinds %s, %s; want Ingress then HTTPRoute", before, last)
	}
}
