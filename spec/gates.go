// The gates, in spec.gates or in a plain folder's GatesFile: loading a
// GatesFile, and the checks of the gate blocks (rollout, health, warmUp,
// errorRate, guard) that both share.

package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// GatesFile is the file beside a plain folder's manifests that holds its
// gates: the fields of spec.gates, in YAML. Its extension is neither .yaml,
// .yml, .json nor .jsonnet, so neither Flux's kustomize-controller (which,
// in a folder without kustomization.yaml, applies every .yaml and .yml
// file and fails on one that is not a Kubernetes object) nor Argo CD's
// directory source (.yaml, .yml, .json, .jsonnet) reads it.
const GatesFile = "bgrender.gates"

// QueryPlaceholders are the placeholders of an error-rate query.
var QueryPlaceholders = []string{"{{app}}", "{{namespace}}", "{{colorLabel}}", "{{color}}", "{{window}}"}

// UnknownPlaceholder returns the text at the first "{{" of query that
// starts no known placeholder, or "" when there is none.
func UnknownPlaceholder(query string) string {
	for i := 0; ; {
		j := strings.Index(query[i:], "{{")
		if j < 0 {
			return ""
		}
		i += j
		known := false
		for _, p := range QueryPlaceholders {
			if strings.HasPrefix(query[i:], p) {
				known = true
				i += len(p)
				break
			}
		}
		if !known {
			return query[i:min(len(query), i+20)]
		}
	}
}

// FolderGates are the gates an app folder declares, with where: in
// bgrender.yaml under spec.gates, or in a plain folder's GatesFile.
type FolderGates struct {
	Spec *GatesSpec // defaulted
	File string     // the file that holds them
	// Path is the field path of the block in File: "spec.gates", or ""
	// for a GatesFile.
	Path   string
	Source Source
}

// GatesOf returns the gates of a managed app, nil when it has none.
func GatesOf(app *BlueGreenApp) *FolderGates {
	if app.Spec.Gates == nil {
		return nil
	}
	return &FolderGates{Spec: app.Spec.Gates, File: app.Source.File, Path: "spec.gates", Source: app.Source}
}

// Has reports whether field (such as "errorRate.count") was written in
// the file rather than defaulted.
func (f *FolderGates) Has(field string) bool { return f.Source.Has(fieldPath(f.Path, field)) }

// Where names field for a message: bgrender.yaml:31 spec.gates.errorRate.count.
func (f *FolderGates) Where(field string) string {
	p := fieldPath(f.Path, field)
	if line := f.Source.LineOf(p); line > 0 {
		return fmt.Sprintf("%s:%d %s", f.File, line, p)
	}
	return f.File + " " + p
}

// LoadGates decodes a GatesFile strictly (unknown fields, wrong types and
// duplicate keys are errors with file, line and field), fills its defaults
// and validates it.
func LoadGates(name string, data []byte) (*FolderGates, error) {
	if err := checkText(name, data); err != nil {
		return nil, ErrorList{err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ErrorList{yamlError(name, err)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, ErrorList{{File: name, Msg: "the file is empty: write the gates as in spec.gates (rollout, health, warmUp, errorRate, guard)"}}
	}
	d := &decoder{file: name, lines: map[string]int{}}
	root := doc.Content[0]
	if errs := duplicateKeys(name, root); len(errs) > 0 {
		return nil, errs
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{d.errorf(root, "", "expected a mapping of gates (rollout, health, warmUp, errorRate, guard), got %s", describe(root))}
	}
	value := d.decode(root, reflect.TypeFor[GatesSpec](), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, ErrorList{d.errorf(root, "", "internal error: %v", err)}
	}
	g := &GatesSpec{}
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, ErrorList{d.errorf(root, "", "%v", err)}
	}
	DefaultGates(g)
	f := &FolderGates{Spec: g, File: name, Source: Source{File: name, Line: root.Line, lines: d.lines}}
	v := &validator{app: &BlueGreenApp{Source: f.Source}}
	v.gates("", g, nil)
	if len(v.errs) > 0 {
		v.sort()
		return nil, v.errs
	}
	return f, nil
}

// specGates checks spec.gates, against the app's ports.
func (v *validator) specGates() {
	v.gates("spec.gates", v.app.Spec.Gates, v.app.Spec.Ports)
}

// gates checks the gate blocks at path (spec.gates, or "" in a
// GatesFile); ports are the app's, nil when unknown (a plain folder).
func (v *validator) gates(path string, g *GatesSpec, ports []Port) {
	if g == nil {
		return
	}
	at := func(field string) string { return fieldPath(path, field) }
	for field, missing := range map[string]bool{"rollout": g.Rollout == nil, "health": g.Health == nil, "warmUp": g.WarmUp == nil, "errorRate": g.ErrorRate == nil, "guard": g.Guard == nil} {
		if missing && v.app.Source.Has(at(field)) {
			v.add(at(field), "is null: write %s: {} to run the gate with its defaults, or remove the key", field)
		}
	}
	if r := g.Rollout; r != nil {
		v.duration(at("rollout.timeout"), r.Timeout, 0)
	}
	if g.Health != nil {
		v.healthGate(at("health"), g.Health, ports)
	}
	if g.WarmUp != nil {
		v.warmUpGate(at("warmUp"), g.WarmUp)
	}
	if g.ErrorRate != nil {
		v.errorRateGate(at("errorRate"), g.ErrorRate)
	}
	if g.Guard != nil {
		if g.ErrorRate == nil {
			v.add(at("guard"), "needs %s: the guard reads the error rate with its prometheusURL and query", at("errorRate"))
		}
		v.guardGate(at("guard"), g.Guard)
	}
}

// healthGate checks the health gate at path: a path through the service
// proxy, or a URL.
func (v *validator) healthGate(path string, h *HealthGateSpec, ports []Port) {
	at := func(field string) string { return fieldPath(path, field) }
	switch {
	case h.Path != "" && h.URL != "":
		v.add(path, "set path (requested through the API server's service proxy) or url (requested directly), not both")
	case h.Path == "" && h.URL == "":
		v.add(path, "set path (requested through the API server's service proxy) or url (requested directly)")
	case h.Path != "" && !strings.HasPrefix(h.Path, "/"):
		v.add(at("path"), "%q must start with /", h.Path)
	case h.URL != "":
		v.httpURL(at("url"), h.URL)
	}
	if h.Port != nil {
		if h.URL != "" {
			v.add(at("port"), "applies to path only: url is requested as it is")
		} else {
			v.gatePort(at("port"), *h.Port, ports)
		}
	}
	v.positive(at("attempts"), h.Attempts)
}

// warmUpGate checks the warm-up gate at path.
func (v *validator) warmUpGate(path string, w *WarmUpGateSpec) {
	if len(w.Paths) == 0 {
		v.add(fieldPath(path, "paths"), "at least one path is required")
	}
	for i, p := range w.Paths {
		if !strings.HasPrefix(p, "/") {
			v.add(indexPath(fieldPath(path, "paths"), i), "%q must start with /", p)
		}
	}
	v.positive(fieldPath(path, "requests"), w.Requests)
}

// errorRateGate checks the error-rate gate at path: where it reads the
// rate, and how it measures and judges it.
func (v *validator) errorRateGate(path string, e *ErrorRateGateSpec) {
	at := func(field string) string { return fieldPath(path, field) }
	if e.PrometheusURL == "" {
		v.add(at("prometheusURL"), "required: Prometheus's base URL, such as http://prometheus.monitoring:9090")
	} else {
		v.httpURL(at("prometheusURL"), e.PrometheusURL)
	}
	v.percent(at("maxPercent"), e.MaxPercent)
	if u := UnknownPlaceholder(e.Query); u != "" {
		v.add(at("query"), "unknown placeholder at %q; the placeholders are %s", u, strings.Join(QueryPlaceholders, " "))
	}
	v.duration(at("window"), e.Window, time.Second)
	v.duration(at("interval"), e.Interval, 0)
	v.positive(at("count"), e.Count)
	switch {
	case e.FailureLimit == nil:
	case *e.FailureLimit < 0:
		v.add(at("failureLimit"), "must not be negative, got %d", *e.FailureLimit)
	case e.Count != nil && *e.Count > 0 && *e.FailureLimit >= *e.Count:
		v.add(at("failureLimit"), "%d must be less than count (%d): with as many failures allowed as measurements, the gate could never refuse", *e.FailureLimit, *e.Count)
	}
	switch e.NoData {
	case NoDataBlock, NoDataPass:
	default:
		v.add(at("noData"), "%q: want block (a measurement without data refuses) or pass", e.NoData)
	}
}

// guardGate checks the guard's own fields at path.
func (v *validator) guardGate(path string, gd *GuardGateSpec) {
	v.duration(fieldPath(path, "for"), gd.For, 0)
	v.duration(fieldPath(path, "interval"), gd.Interval, 0)
	if gd.MaxPercent != nil {
		v.percent(fieldPath(path, "maxPercent"), *gd.MaxPercent)
	}
}

// duration checks a Go duration that must be positive and at least least.
func (v *validator) duration(path, s string, least time.Duration) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		v.add(path, "%q is not a duration such as 30s, 5m or 1h30m", s)
	case d <= 0:
		v.add(path, "%q: want a positive duration", s)
	case d < least:
		v.add(path, "%q: want at least %s", s, least)
	}
}

func (v *validator) positive(path string, n *int32) {
	if n != nil && *n < 1 {
		v.add(path, "must be at least 1, got %d", *n)
	}
}

func (v *validator) percent(path string, p float64) {
	if math.IsNaN(p) || p <= 0 || p > 100 {
		if !v.app.Source.Has(path) {
			v.add(path, "required: a percentage greater than 0 and at most 100")
			return
		}
		v.add(path, "%v: want a percentage greater than 0 and at most 100", p)
	}
}

// httpURL checks an absolute http(s) URL; the message does not repeat
// the URL, which may carry credentials.
func (v *validator) httpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "not an absolute http or https URL with a host")
	}
}

// gatePort checks that the health gate's port is a port of the preview
// Service: a name of spec.ports or a servicePort (the service proxy
// addresses Service ports, not container ports).
func (v *validator) gatePort(path string, ref intstr.IntOrString, ports []Port) {
	if ports == nil {
		return
	}
	var known []string
	for _, p := range ports {
		if ref.Type == intstr.String && p.Name == ref.StrVal || ref.Type == intstr.Int && p.ServicePort == ref.IntVal {
			return
		}
		known = append(known, fmt.Sprintf("%s (%d)", p.Name, p.ServicePort))
	}
	for _, p := range ports {
		if ref.Type == intstr.Int && p.ContainerPort == ref.IntVal {
			v.add(path, "%d is the containerPort of %s: the service proxy addresses the Service's port, %d (or the name %q)", ref.IntVal, p.Name, p.ServicePort, p.Name)
			return
		}
	}
	v.add(path, "%q is not a port of spec.ports (a name or a servicePort); known ports: %s", ref.String(), strings.Join(known, ", "))
}
