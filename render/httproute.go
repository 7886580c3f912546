package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/bgrender/bgrender/spec"
)

// ColorServiceName is the name of the Service that selects only color c's
// pods, the HTTPRoute's backend for that color and the canary Ingress's
// backend when c is idle.
func ColorServiceName(app *spec.BlueGreenApp, c spec.Color) string { return colorName(app, c) }

// ColorServices renders, when spec.traffic.gateway or spec.traffic.nginx
// is set, one ClusterIP Service per color, <name>-blue and <name>-green,
// each selecting exactly one color on the active Service's ports. Their
// selectors never change, whatever spec.active or the weight: only the
// HTTPRoute's weights, or the canary Ingress's backend and weight, move
// traffic between them. They carry no active or previous color
// annotations, so that a promotion leaves them byte for byte as they are.
func ColorServices(app *spec.BlueGreenApp) []Object {
	if gatewayRoute(app) == nil && nginxCanary(app) == nil {
		return nil
	}
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		svc := service(app, ColorServiceName(app, c), c)
		svc.Annotations = nil
		svc.Labels = colorLabels(app, c)
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		objs = append(objs, svc)
	}
	return objs
}

// HTTPRoutes renders, when spec.traffic.gateway is set, the HTTPRoute
// <name> (gateway.networking.k8s.io/v1). Its rules, in order:
//
//   - one per color for testers: the path prefix and the header
//     spec.traffic.header (Exact) with the color's name as its value, to
//     that color's Service only, at any weight;
//   - the main rule: the path prefix, to both colors' Services, blue then
//     green, the idle color with weight spec.traffic.weight and the active
//     one with the rest of 100.
//
// The route names colors, never active or preview: flipping spec.active
// while the weights per color stay the same renders the same route, byte
// for byte. Every field that the API server would default (parentRef group
// and kind, backendRef group, kind and weight, the match types) is
// written out, so that the object read back equals the one rendered and
// Argo CD shows no drift.
func HTTPRoutes(app *spec.BlueGreenApp) []Object {
	g := gatewayRoute(app)
	if g == nil {
		return nil
	}
	route := &gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta(gatewayv1.SchemeGroupVersion, "HTTPRoute"),
		ObjectMeta: metav1.ObjectMeta{Name: app.Metadata.Name},
	}
	for _, p := range g.ParentRefs {
		ref := gatewayv1.ParentReference{
			Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
			Kind:  ptr.To(gatewayv1.Kind("Gateway")),
			Name:  gatewayv1.ObjectName(p.Name),
			Port:  p.Port,
		}
		if p.Namespace != "" {
			ref.Namespace = ptr.To(gatewayv1.Namespace(p.Namespace))
		}
		if p.SectionName != "" {
			ref.SectionName = ptr.To(gatewayv1.SectionName(p.SectionName))
		}
		route.Spec.ParentRefs = append(route.Spec.ParentRefs, ref)
	}
	for _, h := range g.Hostnames {
		route.Spec.Hostnames = append(route.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	header := app.Spec.Traffic.Header
	for _, c := range spec.Colors {
		route.Spec.Rules = append(route.Spec.Rules, gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{
				Path: pathPrefix(g.Path),
				Headers: []gatewayv1.HTTPHeaderMatch{{
					Type:  ptr.To(gatewayv1.HeaderMatchExact),
					Name:  gatewayv1.HTTPHeaderName(header),
					Value: string(c),
				}},
			}},
			BackendRefs: []gatewayv1.HTTPBackendRef{backendRef(app, c, 1)},
		})
	}
	main := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: pathPrefix(g.Path)}}}
	for _, c := range spec.Colors {
		main.BackendRefs = append(main.BackendRefs, backendRef(app, c, WeightOf(app, c)))
	}
	route.Spec.Rules = append(route.Spec.Rules, main)
	return []Object{route}
}

// WeightOf is color c's share of the HTTPRoute's main rule, in percent:
// spec.traffic.weight for the idle color, the rest of 100 for the active
// one. Without spec.traffic the active color has all of it.
func WeightOf(app *spec.BlueGreenApp, c spec.Color) int32 {
	var idle int32
	if tr := app.Spec.Traffic; tr != nil && tr.Weight != nil {
		idle = *tr.Weight
	}
	if c == app.Spec.Active {
		return 100 - idle
	}
	return idle
}

func gatewayRoute(app *spec.BlueGreenApp) *spec.GatewayRouteSpec {
	if tr := app.Spec.Traffic; tr != nil {
		return tr.Gateway
	}
	return nil
}

func pathPrefix(path string) *gatewayv1.HTTPPathMatch {
	return &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(path)}
}

// backendRef is color c's Service on the first port, with every field that
// the API server would default set.
func backendRef(app *spec.BlueGreenApp, c spec.Color, weight int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{
			Group: ptr.To(gatewayv1.Group("")),
			Kind:  ptr.To(gatewayv1.Kind("Service")),
			Name:  gatewayv1.ObjectName(ColorServiceName(app, c)),
			Port:  ptr.To(app.Spec.Ports[0].ServicePort),
		},
		Weight: ptr.To(weight),
	}}
}
