package rollouts

import (
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// Lossy returns what Import(Render(app)) gives back for a defaulted app,
// after spec.Default and with the gates' defaults written out
// (FillGateDefaults). Render keeps one pod template and leaves out what
// the Rollout format has no place for, so:
//
//   - active is blue and colorLabel the default: the Rollout has no colors;
//   - both colors run the idle color's image, and the idle color's env
//     (merged into spec.env) and scheduling (into the shared fields); the
//     colors' own replicas are gone and spec.replicas is the active
//     color's;
//   - spec.autoscaling is gone (not rendered): spec.replicas is the
//     active color's minReplicas;
//   - spec.migrations is gone (not rendered), and so is spec.maxSurge (a
//     blueGreen Rollout starts its new ReplicaSet whole);
//   - spec.traffic is gone (not rendered), and spec.networkPolicy is the
//     default (the policy is rendered but not read back);
//   - a computed quota comes back as its hard figures, a disabled budget
//     as the default one, and an explicit maxUnavailable 1 on two or more
//     replicas as the default;
//   - guard.for is rounded up to a whole number of intervals, a health
//     port given by number comes back as its name.
func Lossy(app *spec.BlueGreenApp) *spec.BlueGreenApp {
	out := &spec.BlueGreenApp{APIVersion: app.APIVersion, Kind: app.Kind, Metadata: app.Metadata}
	s := deepCopy(&app.Spec)
	idle := s.Idle()
	image := s.ColorSpecOf(idle).Image
	s.Env = render.Deployment(app, idle).Spec.Template.Spec.Containers[0].Env
	s.Scheduling = s.SchedulingOf(idle)
	s.Replicas = ptr.To(s.ReplicasOf(s.Active))
	s.Blue, s.Green = spec.ColorSpec{Image: image}, spec.ColorSpec{Image: image}
	s.Active, s.ColorLabel = "", ""
	s.Traffic = nil
	s.Autoscaling = nil
	s.Migrations = nil
	s.MaxSurge = nil // a blueGreen Rollout starts its new ReplicaSet whole
	s.NetworkPolicy = spec.NetworkPolicySpec{}
	if s.Quota.Enabled {
		if len(s.Quota.Hard) == 0 {
			s.Quota.Hard = render.QuotaFigures(&app.Spec)
		}
		s.Quota.HeadroomPercent = nil
	} else {
		s.Quota = spec.QuotaSpec{}
	}
	if db := s.DisruptionBudget; db != nil {
		one := db.MinAvailable == nil && db.MaxUnavailable != nil && *db.MaxUnavailable == maxUnavailableOne && *s.Replicas >= 2
		if (db.Enabled != nil && !*db.Enabled) || one {
			s.DisruptionBudget = nil
		}
	}
	if g := s.Gates; g != nil {
		if h := g.Health; h != nil && h.Port != nil && h.URL == "" {
			h.Port = healthPort(s.Ports, *h.Port)
		}
		if gd := g.Guard; gd != nil {
			every := duration(gd.Interval, defaultGuardEvery)
			n := (duration(gd.For, defaultGuardFor) + every - 1) / every
			gd.For = formatDuration(n * every)
		}
	}
	out.Spec = *s
	spec.Default(out)
	FillGateDefaults(out.Spec.Gates)
	return out
}

// healthPort is the health gate's port as Import reads it back: none for
// the first port, else the port's name (or number, for a port without one).
func healthPort(ports []spec.Port, ref intstr.IntOrString) *intstr.IntOrString {
	for i, p := range ports {
		if (ref.Type == intstr.String && p.Name == ref.StrVal) || (ref.Type == intstr.Int && (p.ServicePort == ref.IntVal || p.ContainerPort == ref.IntVal)) {
			if i == 0 {
				return nil
			}
			if p.Name != "" {
				return ptr.To(intstr.FromString(p.Name))
			}
			return ptr.To(intstr.FromInt32(p.ServicePort))
		}
	}
	return nil
}

// FillGateDefaults writes out the documented defaults of spec.gates, so
// that two specs compare equal when their gates behave the same.
func FillGateDefaults(g *spec.GatesSpec) {
	if g == nil {
		return
	}
	if r := g.Rollout; r != nil {
		r.Timeout = formatDuration(duration(r.Timeout, defaultRolloutTimeout))
	}
	if h := g.Health; h != nil {
		h.Attempts = ptr.To(ptr.Deref(h.Attempts, defaultHealthAttempts))
	}
	if w := g.WarmUp; w != nil {
		w.Requests = ptr.To(ptr.Deref(w.Requests, defaultWarmUpRequests))
	}
	if e := g.ErrorRate; e != nil {
		e.Window = formatDuration(duration(e.Window, defaultErrorRateWindow))
		e.Count = ptr.To(ptr.Deref(e.Count, defaultErrorRateCount))
		e.Interval = formatDuration(duration(e.Interval, defaultErrorRateEvery))
		e.FailureLimit = ptr.To(ptr.Deref(e.FailureLimit, 0))
		if e.NoData == "" {
			e.NoData = "block"
		}
	}
	if gd := g.Guard; gd != nil {
		gd.For = formatDuration(duration(gd.For, defaultGuardFor))
		gd.Interval = formatDuration(duration(gd.Interval, defaultGuardEvery))
		if gd.MaxPercent == nil && g.ErrorRate != nil {
			gd.MaxPercent = ptr.To(g.ErrorRate.MaxPercent)
		}
	}
}
