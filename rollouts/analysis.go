package rollouts

import (
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// The defaults of spec.gates, as spec/types.go documents them.
const (
	defaultRolloutTimeout  = 5 * time.Minute
	defaultHealthAttempts  = int32(5)
	defaultWarmUpRequests  = int32(1)
	defaultErrorRateWindow = time.Minute
	defaultErrorRateCount  = int32(1)
	defaultErrorRateEvery  = 30 * time.Second
	defaultGuardFor        = 5 * time.Minute
	defaultGuardEvery      = 10 * time.Second
)

// Names of the metrics, the templates' suffixes and the arguments that the
// translation writes, and that Import reads back.
const (
	MetricHealth    = "health"
	MetricWarmUp    = "warm-up-" // followed by the path's index
	MetricErrorRate = "error-rate"

	PrePromotionSuffix  = "-pre-promotion"
	PostPromotionSuffix = "-post-promotion"

	ArgNamespace = "namespace"
	ArgHash      = "pod-template-hash"

	// HashLabel is the label Argo Rollouts puts on each ReplicaSet's pods;
	// the error-rate query selects the pods to measure by it, where
	// bgrender's selects by the color label.
	HashLabel = "rollouts-pod-template-hash"
)

// gates is spec.gates with the documented defaults filled in.
type gates struct {
	app *spec.BlueGreenApp
	g   spec.GatesSpec
}

func gatesOf(app *spec.BlueGreenApp) gates {
	if app.Spec.Gates == nil {
		return gates{app: app}
	}
	return gates{app: app, g: *app.Spec.Gates}
}

func (g gates) webMetrics() bool { return g.g.Health != nil || g.g.WarmUp != nil }

// progressDeadline is gates.rollout.timeout in seconds: Argo Rollouts
// marks a Rollout Degraded when the new ReplicaSet is not available in
// time, as the rollout gate refuses.
func (g gates) progressDeadline() *int32 {
	if g.g.Rollout == nil {
		return nil
	}
	return ptr.To(int32(duration(g.g.Rollout.Timeout, defaultRolloutTimeout).Seconds()))
}

// prePromotion runs the health, warm-up and error-rate gates as the
// pre-promotion analysis, against the newest ReplicaSet (the preview).
func (g gates) prePromotion() *RolloutAnalysis {
	if g.g.Health == nil && g.g.WarmUp == nil && g.g.ErrorRate == nil {
		return nil
	}
	return g.analysis(g.app.Metadata.Name+PrePromotionSuffix, g.g.ErrorRate != nil)
}

// postPromotion runs guard's watch as the post-promotion analysis: when
// it fails, Argo Rollouts aborts and returns the active Service to the
// previous ReplicaSet, as guard rolls back.
func (g gates) postPromotion() *RolloutAnalysis {
	if g.g.Guard == nil || g.g.ErrorRate == nil {
		return nil
	}
	return g.analysis(g.app.Metadata.Name+PostPromotionSuffix, true)
}

func (g gates) analysis(template string, hash bool) *RolloutAnalysis {
	a := &RolloutAnalysis{
		Templates: []TemplateRef{{TemplateName: template}},
		Args: []AnalysisRunArgument{{
			Name:      ArgNamespace,
			ValueFrom: &ArgumentValueFrom{FieldRef: &FieldRef{FieldPath: "metadata.namespace"}},
		}},
	}
	if hash {
		a.Args = append(a.Args, AnalysisRunArgument{
			Name:      ArgHash,
			ValueFrom: &ArgumentValueFrom{PodTemplateHashValue: ptr.To("Latest")},
		})
	}
	return a
}

// AnalysisTemplates renders <name>-pre-promotion from the health, warm-up
// and error-rate gates, and <name>-post-promotion from guard. Argo
// Rollouts measures a template's metrics side by side, where bgrender runs
// the gates one after the other; either way all must pass.
//
//   - health: a web metric on the preview Service (or gates.health.url),
//     count 1 and consecutiveErrorLimit attempts-1: an answer outside 2xx
//     or no answer is an Error, retried until the limit.
//   - warm-up: a web metric per path, count requests, consecutiveErrorLimit
//     0: one answer outside 2xx fails.
//   - error rate: a prometheus metric with the gate's count, interval and
//     failureLimit. A measurement succeeds below maxPercent and fails at or
//     above it; no data (unless noData is pass) and NaN match neither
//     condition and are Inconclusive, and inconclusiveLimit 0 ends the
//     analysis Inconclusive at the first one, which leaves the Rollout
//     paused (never promoted) until someone decides. A query error is an
//     Error, and consecutiveErrorLimit 0 ends the analysis at the first. The
//     query is bgrender's, with the color label replaced by
//     rollouts-pod-template-hash and the color by the newest ReplicaSet's
//     hash.
//   - guard: the same query on the newest ReplicaSet after the promotion,
//     count for/interval measurements, interval apart, failureLimit 0.
func AnalysisTemplates(app *spec.BlueGreenApp) []render.Object {
	g := gatesOf(app)
	var objs []render.Object
	if a := g.prePromotion(); a != nil {
		var metrics []Metric
		if h := g.g.Health; h != nil {
			metrics = append(metrics, Metric{
				Name:                  MetricHealth,
				Count:                 ptr.To(intstr.FromInt32(1)),
				ConsecutiveErrorLimit: ptr.To(intstr.FromInt32(ptr.Deref(h.Attempts, defaultHealthAttempts) - 1)),
				Provider:              MetricProvider{Web: &WebMetric{URL: g.url(h.URL, h.Path, h.Port)}},
			})
		}
		if w := g.g.WarmUp; w != nil {
			n := ptr.Deref(w.Requests, defaultWarmUpRequests)
			for i, p := range w.Paths {
				m := Metric{
					Name:                  MetricWarmUp + strconv.Itoa(i),
					Count:                 ptr.To(intstr.FromInt32(n)),
					ConsecutiveErrorLimit: ptr.To(intstr.FromInt32(0)),
					Provider:              MetricProvider{Web: &WebMetric{URL: g.url("", p, nil)}},
				}
				if n > 1 {
					m.Interval = "1s"
				}
				metrics = append(metrics, m)
			}
		}
		if e := g.g.ErrorRate; e != nil {
			metrics = append(metrics, g.errorRate(e.MaxPercent,
				ptr.Deref(e.Count, defaultErrorRateCount),
				duration(e.Interval, defaultErrorRateEvery),
				ptr.Deref(e.FailureLimit, 0)))
		}
		objs = append(objs, template(a.Templates[0].TemplateName, a, metrics))
	}
	if a := g.postPromotion(); a != nil {
		gd := g.g.Guard
		every := duration(gd.Interval, defaultGuardEvery)
		count := int32((duration(gd.For, defaultGuardFor) + every - 1) / every)
		maxPct := g.g.ErrorRate.MaxPercent
		if gd.MaxPercent != nil {
			maxPct = *gd.MaxPercent
		}
		objs = append(objs, template(a.Templates[0].TemplateName, a, []Metric{g.errorRate(maxPct, count, every, 0)}))
	}
	return objs
}

func template(name string, a *RolloutAnalysis, metrics []Metric) *AnalysisTemplate {
	args := make([]Argument, 0, len(a.Args))
	for _, arg := range a.Args {
		args = append(args, Argument{Name: arg.Name})
	}
	return &AnalysisTemplate{
		TypeMeta:   metav1.TypeMeta{APIVersion: GroupVersion.String(), Kind: "AnalysisTemplate"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       AnalysisTemplateSpec{Args: args, Metrics: metrics},
	}
}

// errorRate is the prometheus metric of the error-rate gate.
func (g gates) errorRate(maxPct float64, count int32, every time.Duration, failureLimit int32) Metric {
	e := g.g.ErrorRate
	query := e.Query
	if query == "" {
		query = gate.DefaultErrorRateQuery
	}
	max := strconv.FormatFloat(maxPct, 'g', -1, 64)
	success := "len(result) > 0 && result[0] < " + max
	if e.NoData == "pass" {
		success = "len(result) == 0 || result[0] < " + max
	}
	return Metric{
		Name:                  MetricErrorRate,
		Interval:              formatDuration(every),
		Count:                 ptr.To(intstr.FromInt32(count)),
		SuccessCondition:      success,
		FailureCondition:      "len(result) > 0 && result[0] >= " + max,
		FailureLimit:          ptr.To(intstr.FromInt32(failureLimit)),
		InconclusiveLimit:     ptr.To(intstr.FromInt32(0)),
		ConsecutiveErrorLimit: ptr.To(intstr.FromInt32(0)),
		Provider: MetricProvider{Prometheus: &PrometheusMetric{
			Address: e.PrometheusURL,
			Query:   ExpandQuery(query, g.app, duration(e.Window, defaultErrorRateWindow)),
		}},
	}
}

// ExpandQuery fills bgrender's placeholders for Argo Rollouts: the app and
// the window as they are, the namespace and the color as the analysis's
// arguments, the color label as the pod-template-hash label.
func ExpandQuery(query string, app *spec.BlueGreenApp, window time.Duration) string {
	return gate.ExpandQuery(query, gate.QueryVars{
		App:        app.Metadata.Name,
		Namespace:  "{{args." + ArgNamespace + "}}",
		ColorLabel: HashLabel,
		Color:      "{{args." + ArgHash + "}}",
		Window:     window,
	})
}

// url is the address a web metric requests: the given URL, or path on the
// preview Service's port (a name or number of spec.ports; default the
// first), by its cluster DNS name.
func (g gates) url(url, path string, port *intstr.IntOrString) string {
	if url != "" {
		return url
	}
	ports := g.app.Spec.Ports
	svcPort := ports[0].ServicePort
	if port != nil {
		for _, p := range ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && (p.ServicePort == port.IntVal || p.ContainerPort == port.IntVal)) {
				svcPort = p.ServicePort
				break
			}
		}
	}
	return fmt.Sprintf("http://%s.{{args.%s}}.svc:%d%s", render.PreviewName(g.app), ArgNamespace, svcPort, path)
}

// duration parses a validated Go duration, or returns def for "".
func duration(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && s != "" {
		return d
	}
	return def
}

// formatDuration writes d as Argo Rollouts' DurationString: whole hours,
// minutes or seconds ("1h", "5m", "30s").
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}
