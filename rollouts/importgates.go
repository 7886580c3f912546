package rollouts

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// gates maps the analyses onto spec.gates: the pre-promotion analysis's
// web metrics onto health (and warm-up, by the metric names render
// writes) and its prometheus metric onto errorRate; the post-promotion
// analysis's prometheus metric onto guard; progressDeadlineSeconds onto
// gates.rollout.timeout.
func (im *importer) gates(d *document, app *spec.BlueGreenApp, ro *Rollout) {
	g := &spec.GatesSpec{}
	if p := ro.Spec.ProgressDeadlineSeconds; p != nil {
		g.Rollout = &spec.RolloutGateSpec{Timeout: formatDuration(time.Duration(*p) * time.Second)}
	}
	bg := ro.Spec.Strategy.BlueGreen
	const path = "spec.strategy.blueGreen."
	for _, m := range im.metrics(d, path+"prePromotionAnalysis", bg.PrePromotionAnalysis, app) {
		im.preMetric(app, g, m)
	}
	for _, m := range im.metrics(d, path+"postPromotionAnalysis", bg.PostPromotionAnalysis, app) {
		im.postMetric(app, g, m)
	}
	if *g != (spec.GatesSpec{}) {
		app.Spec.Gates = g
	}
}

// metric is one metric of a template that an analysis runs, with the
// analysis's arguments filled in.
type metric struct {
	Metric
	doc  *document
	path string
}

func (im *importer) metrics(ro *document, path string, a *RolloutAnalysis, app *spec.BlueGreenApp) []metric {
	if a == nil {
		return nil
	}
	var out []metric
	for i, ref := range a.Templates {
		kind := "AnalysisTemplate"
		if ref.ClusterScope {
			kind = "ClusterAnalysisTemplate"
		}
		d := im.templates[kind+"/"+ref.TemplateName]
		if d == nil {
			im.note(ro, fmt.Sprintf("%s.templates[%d]", path, i), "%s %q is not in the input: its metrics are not imported", kind, ref.TemplateName)
			continue
		}
		var t AnalysisTemplate
		unknown, errs := d.decodeInto(&t, nil)
		if len(errs) > 0 {
			im.notes = append(im.notes, errs...)
			continue
		}
		for _, p := range unknown {
			im.note(d, p, "not mapped: bgrender has no counterpart of this field")
		}
		args := map[string]string{}
		for _, arg := range t.Spec.Args {
			if arg.Value != nil {
				args[arg.Name] = *arg.Value
			}
		}
		for _, arg := range a.Args {
			switch {
			case arg.ValueFrom == nil:
				args[arg.Name] = arg.Value
			case arg.ValueFrom.FieldRef != nil && arg.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				args[arg.Name] = "{{namespace}}"
			case arg.ValueFrom.PodTemplateHashValue != nil:
				args[arg.Name] = "{{color}}"
			default:
				im.note(ro, path+".args", "%s: not mapped: bgrender fills in the app, namespace, color and window only", arg.Name)
			}
		}
		for j, m := range t.Spec.Metrics {
			m.SuccessCondition = fill(m.SuccessCondition, args)
			m.FailureCondition = fill(m.FailureCondition, args)
			if p := m.Provider.Prometheus; p != nil {
				p.Query = fill(p.Query, args)
				p.Address = fill(p.Address, args)
			}
			if w := m.Provider.Web; w != nil {
				w.URL = fill(w.URL, args)
			}
			out = append(out, metric{Metric: m, doc: d, path: fmt.Sprintf("spec.metrics[%d]", j)})
		}
	}
	return out
}

var argRE = regexp.MustCompile(`\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}`)

// fill replaces {{args.NAME}} with the argument's value where there is one.
func fill(s string, args map[string]string) string {
	return argRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := args[argRE.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

func (im *importer) preMetric(app *spec.BlueGreenApp, g *spec.GatesSpec, m metric) {
	switch {
	case m.Provider.Web != nil && strings.HasPrefix(m.Name, MetricWarmUp):
		path, ok := previewPath(app, m.Provider.Web.URL)
		if !ok {
			im.note(m.doc, m.path+".provider.web.url", "%q: not mapped: a warm-up path is requested on the preview Service", m.Provider.Web.URL)
			return
		}
		if g.WarmUp == nil {
			g.WarmUp = &spec.WarmUpGateSpec{}
		}
		g.WarmUp.Paths = append(g.WarmUp.Paths, path)
		if n := intOf(m.Count, 1); n != 1 {
			g.WarmUp.Requests = ptr.To(n)
		}
	case m.Provider.Web != nil && g.Health == nil:
		h := &spec.HealthGateSpec{}
		if path, port, ok := previewPathPort(app, m.Provider.Web.URL); ok {
			h.Path = path
			if port != nil {
				h.Port = port
			}
		} else {
			h.URL = m.Provider.Web.URL
		}
		if n := intOf(m.ConsecutiveErrorLimit, 4) + 1; n != 5 {
			h.Attempts = ptr.To(n)
		}
		if m.SuccessCondition != "" || m.FailureCondition != "" || m.Provider.Web.JSONPath != "" {
			im.note(m.doc, m.path, "%s: the conditions are not mapped: the health gate passes on a 2xx answer", m.Name)
		}
		g.Health = h
	case m.Provider.Prometheus != nil && g.ErrorRate == nil:
		e, ok := im.errorRate(app, m)
		if ok {
			g.ErrorRate = e
		}
	default:
		im.note(m.doc, m.path, "%s: not mapped: bgrender's gates are one health check, warm-up paths and one error rate", m.Name)
	}
}

func (im *importer) postMetric(app *spec.BlueGreenApp, g *spec.GatesSpec, m metric) {
	if m.Provider.Prometheus == nil || g.Guard != nil {
		im.note(m.doc, m.path, "%s: not mapped: guard watches one error rate after a promotion", m.Name)
		return
	}
	e, ok := im.errorRate(app, m)
	if !ok {
		return
	}
	gd := &spec.GuardGateSpec{}
	every := duration(m.Interval, defaultGuardEvery)
	if every != defaultGuardEvery {
		gd.Interval = formatDuration(every)
	}
	if m.Count == nil {
		im.note(m.doc, m.path+".count", "missing: Argo Rollouts measures until the analysis is stopped; guard watches for gates.guard.for (default 5m)")
	} else if f := time.Duration(intOf(m.Count, 1)) * every; f != defaultGuardFor {
		gd.For = formatDuration(f)
	}
	if g.ErrorRate == nil {
		e.Count, e.Interval, e.FailureLimit = nil, "", nil
		g.ErrorRate = e
	} else {
		if e.Query != g.ErrorRate.Query || e.Window != g.ErrorRate.Window || e.PrometheusURL != g.ErrorRate.PrometheusURL {
			im.note(m.doc, m.path+".provider.prometheus", "not mapped: guard runs the pre-promotion error-rate query (%s), on the live color", g.ErrorRate.PrometheusURL)
		}
		if e.NoData != g.ErrorRate.NoData {
			im.note(m.doc, m.path+".successCondition", "not mapped: guard treats no data as gates.errorRate.noData says")
		}
	}
	if e.MaxPercent != g.ErrorRate.MaxPercent {
		gd.MaxPercent = ptr.To(e.MaxPercent)
	}
	if intOf(m.FailureLimit, 0) != 0 {
		im.note(m.doc, m.path+".failureLimit", "not mapped: guard rolls back at the first measurement at or above its maximum")
	}
	g.Guard = gd
}

var (
	errorBelowRE   = regexp.MustCompile(`^\s*(len\(result\) > 0 && |len\(result\) == 0 \|\| )?result\[0\] (<|<=) ([0-9.eE+-]+)\s*$`)
	successAboveRE = regexp.MustCompile(`^\s*result\[0\] (>=|>) ([0-9.eE+-]+)\s*$`)
	windowRE       = regexp.MustCompile(`\[(\d+)s\]`)
)

// errorRate maps a prometheus metric onto the error-rate gate: a
// successCondition "result[0] < MAX" (as render writes it, or without the
// guards for no data) reads an error percentage; "result[0] >= MIN" reads
// a success ratio (0–1), as the success-rate template of Argo Rollouts'
// documentation does, and becomes 100 * (1 - (query)) with maxPercent
// 100 * (1 - MIN).
func (im *importer) errorRate(app *spec.BlueGreenApp, m metric) (*spec.ErrorRateGateSpec, bool) {
	p := m.Provider.Prometheus
	e := &spec.ErrorRateGateSpec{PrometheusURL: p.Address}
	query := strings.TrimSpace(p.Query)
	if sm := errorBelowRE.FindStringSubmatch(m.SuccessCondition); sm != nil {
		max, err := strconv.ParseFloat(sm[3], 64)
		if err != nil {
			im.note(m.doc, m.path+".successCondition", "%q: not a number", sm[3])
			return nil, false
		}
		e.MaxPercent = max
		if sm[1] == "len(result) == 0 || " {
			e.NoData = "pass"
		}
		if sm[2] == "<=" {
			im.note(m.doc, m.path+".successCondition", "<= %s: the error-rate gate refuses at or above maxPercent, so exactly %s now refuses", sm[3], sm[3])
		}
	} else if sm := successAboveRE.FindStringSubmatch(m.SuccessCondition); sm != nil {
		min, err := strconv.ParseFloat(sm[2], 64)
		if err != nil || min < 0 || min > 1 {
			im.note(m.doc, m.path+".successCondition", "%q: not mapped: a success ratio between 0 and 1 is expected", m.SuccessCondition)
			return nil, false
		}
		e.MaxPercent = math.Round((1-min)*100*1e6) / 1e6
		query = "100 * (1 - (" + query + "))"
		im.note(m.doc, m.path+".successCondition", "%s reads a success ratio: the error-rate gate runs 100 * (1 - (query)) and refuses at or above %s%%", m.SuccessCondition, strconv.FormatFloat(e.MaxPercent, 'g', -1, 64))
	} else {
		im.note(m.doc, m.path+".successCondition", "%q: not mapped: the error-rate gate reads result[0] < MAX (an error percentage) or result[0] >= MIN (a success ratio)", m.SuccessCondition)
		return nil, false
	}
	if intOf(m.InconclusiveLimit, 0) > 0 {
		im.note(m.doc, m.path+".inconclusiveLimit", "not mapped: an inconclusive measurement blocks the error-rate gate at once")
	}
	query = strings.NewReplacer(gate.PromLabel(HashLabel), "{{colorLabel}}").Replace(query)
	e.Query = query
	if w := windowRE.FindStringSubmatch(query); w != nil {
		secs, _ := strconv.Atoi(w[1])
		window := time.Duration(secs) * time.Second
		if ExpandQuery(gate.DefaultErrorRateQuery, app, window) == fill(strings.NewReplacer("{{colorLabel}}", gate.PromLabel(HashLabel), "{{color}}", "{{args."+ArgHash+"}}", "{{namespace}}", "{{args."+ArgNamespace+"}}").Replace(query), nil) {
			e.Query = ""
			if window != defaultErrorRateWindow {
				e.Window = formatDuration(window)
			}
		}
	}
	if m.Count != nil {
		if n := intOf(m.Count, 1); n != 1 {
			e.Count = ptr.To(n)
		}
	} else if m.Interval != "" {
		n := intOf(m.FailureLimit, 0) + 1
		if n > 1 {
			e.Count = ptr.To(n)
		}
		im.note(m.doc, m.path+".count", "missing: Argo Rollouts measures until the analysis is stopped or fails; the error-rate gate takes failureLimit+1 = %d measurements", n)
	}
	if m.Interval != "" && duration(m.Interval, defaultErrorRateEvery) != defaultErrorRateEvery {
		e.Interval = formatDuration(duration(m.Interval, defaultErrorRateEvery))
	}
	if n := intOf(m.FailureLimit, 0); n != 0 {
		e.FailureLimit = ptr.To(n)
	}
	return e, true
}

func intOf(v *intstr.IntOrString, def int32) int32 {
	if v == nil {
		return def
	}
	if v.Type == intstr.String {
		n, err := strconv.Atoi(v.StrVal)
		if err != nil {
			return def
		}
		return int32(n)
	}
	return v.IntVal
}

// previewPath returns the path of a URL on the preview Service (as
// render writes it) at its first port.
func previewPath(app *spec.BlueGreenApp, url string) (string, bool) {
	path, port, ok := previewPathPort(app, url)
	if !ok || port != nil {
		return "", false
	}
	return path, true
}

// previewPathPort splits a URL on the preview Service, by its cluster DNS
// name, into the path and the port (nil for the first Service port).
func previewPathPort(app *spec.BlueGreenApp, url string) (string, *intstr.IntOrString, bool) {
	re := regexp.MustCompile(`^http://` + regexp.QuoteMeta(render.PreviewName(app)) + `(\.[a-z0-9{}-]+)?(\.svc(\.cluster\.local)?)?:(\d+)(/.*)?$`)
	sm := re.FindStringSubmatch(url)
	if sm == nil || len(app.Spec.Ports) == 0 {
		return "", nil, false
	}
	n, _ := strconv.Atoi(sm[4])
	path := sm[5]
	if path == "" {
		path = "/"
	}
	for i, p := range app.Spec.Ports {
		if p.ServicePort == int32(n) || (p.ServicePort == 0 && p.ContainerPort == int32(n)) {
			if i == 0 {
				return path, nil, true
			}
			port := intstr.FromInt32(int32(n))
			if p.Name != "" {
				port = intstr.FromString(p.Name)
			}
			return path, &port, true
		}
	}
	return "", nil, false
}
