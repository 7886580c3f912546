package render_test

import (
	"bytes"
	"maps"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func nginxApp(t testing.TB) *spec.BlueGreenApp { return load(t, "../examples/nginx/app.yaml")[0] }

// ingressesOf renders the app and returns its Ingresses by name, and its
// Services by name.
func ingressesOf(t *testing.T, app *spec.BlueGreenApp) (map[string]*networkingv1.Ingress, map[string]*corev1.Service) {
	t.Helper()
	ings := map[string]*networkingv1.Ingress{}
	svcs := map[string]*corev1.Service{}
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		switch o := o.(type) {
		case *networkingv1.Ingress:
			ings[o.Name] = o
		case *corev1.Service:
			svcs[o.Name] = o
		}
	}
	return ings, svcs
}

func backendOf(ing *networkingv1.Ingress) string {
	return ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name
}

func wantCanary(t *testing.T, ing *networkingv1.Ingress, backend, weight, headerValue string) {
	t.Helper()
	if ing == nil {
		t.Fatal("no canary Ingress my-application-canary")
	}
	if got := backendOf(ing); got != backend {
		t.Errorf("canary backend %s, want %s", got, backend)
	}
	want := map[string]string{
		"nginx.ingress.kubernetes.io/canary":                 "true",
		"nginx.ingress.kubernetes.io/canary-weight":          weight,
		"nginx.ingress.kubernetes.io/canary-weight-total":    "100",
		"nginx.ingress.kubernetes.io/canary-by-header":       "x-bgrender-color",
		"nginx.ingress.kubernetes.io/canary-by-header-value": headerValue,
	}
	if !maps.Equal(ing.Annotations, want) {
		t.Errorf("canary annotations\n got %v\nwant %v", ing.Annotations, want)
	}
}

func TestCanaryIngressRoutesToTheIdleColor(t *testing.T) {
	app := nginxApp(t)
	ings, svcs := ingressesOf(t, app)
	if len(ings) != 3 {
		t.Fatalf("Ingresses %v, want my-application, -canary, -preview", slicesOfKeys(ings))
	}
	main, canary := ings["my-application"], ings["my-application-canary"]
	if got := backendOf(main); got != "my-application" {
		t.Errorf("main Ingress backend %s, want the active Service my-application", got)
	}
	if len(main.Annotations) != 0 {
		t.Errorf("main Ingress annotations %v, want none", main.Annotations)
	}
	wantCanary(t, canary, "my-application-green", "20", "green")
	// Same host, path, path type, class and port as the main Ingress.
	mr, cr := main.Spec.Rules[0], canary.Spec.Rules[0]
	if mr.Host != cr.Host || mr.HTTP.Paths[0].Path != cr.HTTP.Paths[0].Path || *mr.HTTP.Paths[0].PathType != *cr.HTTP.Paths[0].PathType ||
		*main.Spec.IngressClassName != *canary.Spec.IngressClassName ||
		mr.HTTP.Paths[0].Backend.Service.Port != cr.HTTP.Paths[0].Backend.Service.Port {
		t.Errorf("canary rule %+v / class %s differs from the main Ingress's %+v / %s", cr, *canary.Spec.IngressClassName, mr, *main.Spec.IngressClassName)
	}
	if canary.Namespace != "production" || canary.Labels["app.kubernetes.io/name"] != "my-application" {
		t.Errorf("canary metadata %s %v", canary.Namespace, canary.Labels)
	}
	// The per-color Services exist, each selecting one color, as in the
	// Gateway mode.
	for _, c := range spec.Colors {
		svc := svcs["my-application-"+string(c)]
		if svc == nil {
			t.Fatalf("no per-color Service for %s", c)
		}
		if svc.Spec.Selector["version"] != string(c) || svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s: selector %v, type %s", svc.Name, svc.Spec.Selector, svc.Spec.Type)
		}
	}
	// No HTTPRoute in the nginx mode.
	for _, o := range render.Render([]*spec.BlueGreenApp{app}) {
		if k := o.GetObjectKind().GroupVersionKind().Kind; k == "HTTPRoute" {
			t.Errorf("the nginx mode rendered an HTTPRoute %s", o.GetName())
		}
	}
}

func slicesOfKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCanaryIngressWeights(t *testing.T) {
	for _, w := range []int32{0, 100} {
		app := nginxApp(t)
		app.Spec.Traffic.Weight = ptr.To(w)
		ings, _ := ingressesOf(t, app)
		wantCanary(t, ings["my-application-canary"], "my-application-green", map[int32]string{0: "0", 100: "100"}[w], "green")
	}
}

func TestCanaryIngressTLS(t *testing.T) {
	app := nginxApp(t)
	app.Spec.Ingress.TLSSecretName = "api-tls"
	app.Spec.Ingress.Annotations = map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"}
	ings, _ := ingressesOf(t, app)
	canary := ings["my-application-canary"]
	if len(canary.Spec.TLS) != 1 || canary.Spec.TLS[0].SecretName != "api-tls" || canary.Spec.TLS[0].Hosts[0] != "api.example.com" {
		t.Errorf("canary TLS %+v", canary.Spec.TLS)
	}
	if _, ok := canary.Annotations["cert-manager.io/cluster-issuer"]; ok {
		t.Error("the canary carries spec.ingress.annotations (cert-manager would issue a second Certificate for the Secret)")
	}
	if ings["my-application"].Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" {
		t.Error("the main Ingress lost spec.ingress.annotations")
	}
}

// After a promote (green active, weight reset to 0) the canary names the
// new idle color, blue, at weight 0; the main Ingress and the per-color
// Services are byte for byte as before.
func TestCanaryAfterPromoteNamesTheNewIdleColor(t *testing.T) {
	before := nginxApp(t)
	before.Spec.Traffic.Weight = ptr.To(int32(100))
	after := nginxApp(t)
	after.Spec.Active = spec.Green
	after.Spec.Traffic.Weight = ptr.To(int32(0))
	bi, bs := ingressesOf(t, before)
	ai, as := ingressesOf(t, after)
	wantCanary(t, bi["my-application-canary"], "my-application-green", "100", "green")
	wantCanary(t, ai["my-application-canary"], "my-application-blue", "0", "blue")
	same := func(a, b render.Object, what string) {
		t.Helper()
		x, err := render.EncodeYAML(a)
		if err != nil {
			t.Fatal(err)
		}
		y, err := render.EncodeYAML(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s changed in the promote:\n%s\n---\n%s", what, x, y)
		}
	}
	same(bi["my-application"], ai["my-application"], "the main Ingress")
	for _, c := range spec.Colors {
		n := "my-application-" + string(c)
		same(bs[n], as[n], "Service "+n)
	}
	if as["my-application"].Spec.Selector["version"] != "green" {
		t.Errorf("the active Service selects %v after the promote", as["my-application"].Spec.Selector)
	}
}

func TestGatewayModeRendersNoCanary(t *testing.T) {
	ings, _ := ingressesOf(t, gatewayApp(t))
	if len(ings) != 0 {
		t.Errorf("the gateway example rendered Ingresses %v", slicesOfKeys(ings))
	}
	if objs := render.CanaryIngresses(seed(t)); len(objs) != 0 {
		t.Errorf("the seed (no traffic) rendered a canary")
	}
}

// Bad nginx settings are exit-2 problems located by file, line and field.
func TestCanaryValidation(t *testing.T) {
	base, err := os.ReadFile("../examples/nginx/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(base)
	trafficLine := "    nginx: {}                    # the canary reuses spec.ingress's class, host, path and tls\n"
	if !strings.Contains(src, trafficLine) {
		t.Fatal("the example's nginx line moved")
	}
	ingressBlock := "  ingress:\n    className: nginx\n    host: api.example.com\n    previewHost: preview.api.example.com\n    path: /\n"
	if !strings.Contains(src, ingressBlock) {
		t.Fatal("the example's ingress block moved")
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"both", strings.Replace(src, trafficLine, trafficLine+"    gateway: {parentRefs: [{name: public, namespace: gw}]}\n", 1),
			"examples/nginx/app.yaml:49: spec.traffic.nginx: set either gateway or nginx, not both"},
		{"neither", strings.Replace(src, trafficLine, "", 1),
			"spec.traffic: name how traffic is routed: gateway (the Gateway API) or nginx"},
		{"without ingress", strings.Replace(src, ingressBlock, "", 1),
			"spec.traffic.nginx: requires spec.ingress"},
		{"canary annotation on the main Ingress", strings.Replace(src, ingressBlock, ingressBlock+"    annotations: {nginx.ingress.kubernetes.io/canary-weight: \"5\"}\n", 1),
			"spec.ingress.annotations: nginx.ingress.kubernetes.io/canary-weight: with traffic.nginx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Load("../examples/nginx/app.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}
