package status

import (
	"context"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// readPostRendered finds an app whose objects carry no bgrender labels:
// one that `bgrender postrender` made out of a Helm chart (it changes
// nothing but the color), or hand-written manifests as in the article. The
// app is the Service named app that carries the bgrender.io/active-color
// annotation or a color in its selector, its preview twin (previewName),
// and the Deployments of each color whose pods the Service selects. It
// returns nil when there is no such Service. Four list requests, all
// within the documented Role.
func (r *Reader) readPostRendered(ctx context.Context, app, previewName string) (*App, error) {
	active, err := r.serviceNamed(ctx, app)
	if err != nil || active == nil {
		return nil, err
	}
	if _, ok := active.Annotations[render.AnnotationActiveColor]; !ok && colorKey(active.Spec.Selector) == "" {
		return nil, nil // neither bgrender's annotation nor a color in its selector
	}
	preview, err := r.serviceNamed(ctx, previewName)
	if err != nil {
		return nil, err
	}
	key := colorLabel(active, preview, nil, nil)

	// The Deployments whose pods the Service selects but for the color
	// (hand-written ones need not carry the color label themselves, so
	// this lists the namespace's Deployments: one request).
	var deployments appsv1.DeploymentList
	if err := r.list(ctx, cluster.Deployments, nil, &deployments); err != nil {
		return nil, err
	}
	rest := labels.Set{}
	for k, v := range active.Spec.Selector {
		if k != key {
			rest[k] = v
		}
	}
	byColor := map[spec.Color]*appsv1.Deployment{}
	slices.SortFunc(deployments.Items, func(a, b appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
	for i := range deployments.Items {
		d := &deployments.Items[i]
		c := spec.Color(d.Spec.Template.Labels[key])
		if !c.Valid() || !labels.SelectorFromSet(rest).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		// Several Deployments behind one Service: prefer <app>-<color>.
		if prev := byColor[c]; prev == nil || (d.Name == app+"-"+string(c) && prev.Name != d.Name) {
			byColor[c] = d
		}
	}

	var eps discoveryv1.EndpointSliceList
	if err := r.list(ctx, EndpointSlices, labelQuery(discoveryv1.LabelServiceName+" in ("+app+","+previewName+")"), &eps); err != nil {
		return nil, err
	}
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for i := range eps.Items {
		s := &eps.Items[i]
		svc := s.Labels[discoveryv1.LabelServiceName]
		slicesBySvc[svc] = append(slicesBySvc[svc], s)
	}
	a := buildApp(r.Namespace, app, previewName, active, preview, byColor[spec.Blue], byColor[spec.Green], slicesBySvc)
	return &a, nil
}

// serviceNamed lists the Service name (list, not get, so that the
// documented Role is enough); nil if there is none.
func (r *Reader) serviceNamed(ctx context.Context, name string) (*corev1.Service, error) {
	var l corev1.ServiceList
	if err := r.list(ctx, cluster.Services, url.Values{"fieldSelector": {"metadata.name=" + name}}, &l); err != nil {
		return nil, err
	}
	if len(l.Items) == 0 {
		return nil, nil
	}
	return &l.Items[0], nil
}
