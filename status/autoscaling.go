package status

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
)

// HorizontalPodAutoscalers is the resource of the HPAs that
// spec.autoscaling renders, one per color.
var HorizontalPodAutoscalers = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}

// Autoscaler is what a color's HorizontalPodAutoscaler reports: the
// replicas it last saw and wants, between its bounds.
type Autoscaler struct {
	Name    string `json:"name"`
	Current int32  `json:"current"`
	Desired int32  `json:"desired"`
	Min     int32  `json:"min"`
	Max     int32  `json:"max"`
}

// autoscalersByApp indexes the HPAs by app (label app.kubernetes.io/name)
// and then by the Deployment they scale.
func autoscalersByApp(hpas []autoscalingv2.HorizontalPodAutoscaler) map[string]map[string]*Autoscaler {
	out := map[string]map[string]*Autoscaler{}
	for _, h := range hpas {
		app, ref := h.Labels[render.LabelName], h.Spec.ScaleTargetRef
		if app == "" || ref.Kind != "Deployment" {
			continue
		}
		if out[app] == nil {
			out[app] = map[string]*Autoscaler{}
		}
		out[app][ref.Name] = &Autoscaler{
			Name:    h.Name,
			Current: h.Status.CurrentReplicas,
			Desired: h.Status.DesiredReplicas,
			Min:     ptr.Deref(h.Spec.MinReplicas, 1),
			Max:     h.Spec.MaxReplicas,
		}
	}
	return out
}

// attachAutoscalers gives each color of app the HPA that scales its
// Deployment, if any.
func attachAutoscalers(app *App, byTarget map[string]*Autoscaler) {
	for i := range app.Colors {
		app.Colors[i].Autoscaler = byTarget[app.Colors[i].Deployment]
	}
}

// Capacity says whether the idle color could take all the traffic now, as
// the capacity gate would judge it: Ready pods of Color against what the
// live color runs (its autoscaler's desired replicas, or current when
// more; else its ready pods).
type Capacity struct {
	Color  string `json:"color"`
	Ready  int32  `json:"ready"`
	Needed int32  `json:"needed"`
	Enough bool   `json:"enough"`
}

// IdleCapacity is the idle color's capacity, or nil when no color is live
// or a color's Deployment is missing.
func (a *App) IdleCapacity() *Capacity {
	var live, idle *Color
	for i := range a.Colors {
		c := &a.Colors[i]
		if !c.Found {
			return nil
		}
		if c.Live {
			live = c
		} else {
			idle = c
		}
	}
	if live == nil || idle == nil {
		return nil
	}
	need := live.Ready
	if h := live.Autoscaler; h != nil {
		need = max(h.Desired, h.Current)
	}
	return &Capacity{Color: idle.Color, Ready: idle.Ready, Needed: need, Enough: idle.Ready >= need}
}

// String says it in a line, for status.
func (c *Capacity) String() string {
	if c.Enough {
		return fmt.Sprintf("%s could take all the traffic now: %d ready pods, %d needed", c.Color, c.Ready, c.Needed)
	}
	return fmt.Sprintf("%s could not take all the traffic now: %d ready pods, %d needed (promote would be refused; promote --match-capacity raises it first)", c.Color, c.Ready, c.Needed)
}
