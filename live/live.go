// Package live waits until the cluster serves what a GitOps commit asks
// for: the active Service selects the new color and its EndpointSlices list
// only ready pods of that color. A push (or a merged pull request) says
// nothing about when traffic moves — the agent applies it at its next
// interval, the EndpointSlice controller follows the selector — so CI asks
// this package when to start watching the new color.
package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Resources that the wait reads (get on services, list on endpointslices
// and pods).
var (
	Services       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	EndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	Pods           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// Target is the state to wait for.
type Target struct {
	Client     dynamic.Interface
	Namespace  string
	Service    string // the active Service
	ColorLabel string
	Color      string
	// Image, when set, must run in every endpoint's pod (a deploy): a pod
	// of the color that runs another image counts as "<color> (old image)".
	Image string
	// Timeout bounds the wait (default 5 minutes).
	Timeout time.Duration
	// WatchClient watches the Service and its EndpointSlices (default:
	// Client); it should have no per-request timeout (see
	// cluster.ForWatch).
	WatchClient dynamic.Interface
}

// State is what the cluster serves at one moment.
type State struct {
	// Selects is the color in the Service's selector ("" when it names
	// none, or the Service is missing).
	Selects string
	Found   bool
	// Endpoints of the Service, by pod color ("" for an address without a
	// pod, or a pod of no color).
	Ready, NotReady map[string]int
}

// Live reports whether s is the state wanted: the Service selects color,
// and every endpoint is a ready pod of color (at least one).
func (s State) Live(color string) bool {
	if !s.Found || s.Selects != color || s.Ready[color] == 0 {
		return false
	}
	for c, n := range s.Ready {
		if c != color && n > 0 {
			return false
		}
	}
	for _, n := range s.NotReady {
		if n > 0 {
			return false
		}
	}
	return true
}

// String says what the cluster shows, for a message.
func (s State) String() string {
	if !s.Found {
		return "the Service is missing"
	}
	sel := s.Selects
	if sel == "" {
		sel = "no color"
	}
	var parts []string
	for _, m := range []struct {
		what string
		n    map[string]int
	}{{"ready", s.Ready}, {"not ready", s.NotReady}} {
		colors := make([]string, 0, len(m.n))
		for c := range m.n {
			colors = append(colors, c)
		}
		slices.Sort(colors)
		for _, c := range colors {
			name := c
			if name == "" {
				name = "unknown"
			}
			parts = append(parts, fmt.Sprintf("%d %s %s", m.n[c], m.what, name))
		}
	}
	eps := "no endpoints"
	if len(parts) > 0 {
		eps = "endpoints: " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("the Service selects %s; %s", sel, eps)
}

// TimeoutError is a wait that ran out; Last is what the cluster showed.
type TimeoutError struct {
	Target *Target
	After  time.Duration
	Last   State
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Service %s/%s not serving %s after %s: %s", e.Target.Namespace, e.Target.Service, e.Target.Color, e.After.Round(time.Millisecond), e.Last)
}

// Wait reads the cluster until it serves the target, and returns the state
// it found. It reads again on every change of the Service and of its
// EndpointSlices (see until), so it notices the switch milliseconds after
// the EndpointSlice controller writes it. A missing Service is waited for
// (the agent may create it); an API error other than not-found ends the
// wait.
func Wait(ctx context.Context, t *Target) (State, error) {
	start := time.Now()
	parent := ctx
	var last State
	sources := []source{
		{resource: Services, namespace: t.Namespace, fields: fields.OneTermEqualSelector("metadata.name", t.Service).String()},
		{resource: EndpointSlices, namespace: t.Namespace, labels: discoveryv1.LabelServiceName + "=" + t.Service},
	}
	err := until(ctx, t.watchClient(), t.Timeout, sources, func(ctx context.Context) (bool, error) {
		st, err := Read(ctx, t)
		if err != nil {
			return false, err
		}
		last = st
		return st.Live(t.Color), nil
	})
	switch {
	case err == nil:
		return last, nil
	case parent.Err() != nil: // an interrupt
		return last, fmt.Errorf("waiting for Service %s/%s to serve %s: %w after %s: %s", t.Namespace, t.Service, t.Color, parent.Err(), time.Since(start).Round(time.Millisecond), last)
	case errors.Is(err, errGaveUp):
		return last, &TimeoutError{Target: t, After: time.Since(start), Last: last}
	}
	return last, err
}

func (t *Target) watchClient() dynamic.Interface { return watchClient(t.WatchClient, t.Client) }

func watchClient(watch, client dynamic.Interface) dynamic.Interface {
	if watch != nil {
		return watch
	}
	return client
}

// Read returns what the cluster serves now.
func Read(ctx context.Context, t *Target) (State, error) {
	st := State{Ready: map[string]int{}, NotReady: map[string]int{}}
	u, err := t.Client.Resource(Services).Namespace(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("get Service %s/%s: %w", t.Namespace, t.Service, err)
	}
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
		return st, fmt.Errorf("Service %s/%s: %w", t.Namespace, t.Service, err)
	}
	st.Found = true
	st.Selects = svc.Spec.Selector[t.ColorLabel]
	// The colors of the Service's pods, whatever color it selects now:
	// its selector without the color.
	sel := labels.Set{}
	for k, v := range svc.Spec.Selector {
		if k != t.ColorLabel {
			sel[k] = v
		}
	}
	colorOf := map[string]string{}
	query := sel.String()
	if len(sel) == 0 { // a selector of the color alone: every pod that has one
		query = t.ColorLabel
	}
	{
		pods, err := t.Client.Resource(Pods).Namespace(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: query})
		if err != nil {
			return st, fmt.Errorf("list pods in %s: %w", t.Namespace, err)
		}
		for _, p := range pods.Items {
			color := p.GetLabels()[t.ColorLabel]
			if t.Image != "" && color == t.Color && !runs(&p, t.Image) {
				color += " (old image)"
			}
			colorOf[p.GetName()] = color
		}
	}
	esl, err := t.Client.Resource(EndpointSlices).Namespace(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + t.Service})
	if err != nil {
		return st, fmt.Errorf("list EndpointSlices of %s/%s: %w", t.Namespace, t.Service, err)
	}
	seen := map[string]bool{}
	for _, item := range esl.Items {
		var es discoveryv1.EndpointSlice
		if err := fromUnstructured(&item, &es); err != nil {
			return st, err
		}
		for _, ep := range es.Endpoints {
			key := endpointKey(ep)
			if seen[key] { // an address in two slices counts once
				continue
			}
			seen[key] = true
			color := ""
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				color = colorOf[ep.TargetRef.Name]
			}
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready { // nil means ready (discovery/v1)
				st.Ready[color]++
			} else {
				st.NotReady[color]++
			}
		}
	}
	return st, nil
}

// runs reports whether one of the pod's containers runs image.
func runs(p *unstructured.Unstructured, image string) bool {
	containers, _, _ := unstructured.NestedSlice(p.Object, "spec", "containers")
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok && m["image"] == image {
			return true
		}
	}
	return false
}

func endpointKey(ep discoveryv1.Endpoint) string {
	if ep.TargetRef != nil {
		return ep.TargetRef.Kind + "/" + ep.TargetRef.Name
	}
	return strings.Join(ep.Addresses, ",")
}

func fromUnstructured(u *unstructured.Unstructured, out any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// IsTimeout reports whether err is a wait that ran out.
func IsTimeout(err error) bool {
	var te *TimeoutError
	return errors.As(err, &te)
}
