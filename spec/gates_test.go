package spec_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

// gatesApp is a valid spec whose gates the tests below edit.
const gatesApp = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: web}
spec:
  blue: {image: web:1}
  green: {image: web:1}
  ports: [{name: http, containerPort: 8080, servicePort: 80}]
  gates:
`

// TestGateDefaultsMatchSchema: every default that the JSON Schema
// announces for a gate field is the value Default fills in, and every
// field Default fills in has its default in the schema (except the
// guard's maxPercent, which follows errorRate.maxPercent).
func TestGateDefaultsMatchSchema(t *testing.T) {
	apps, err := spec.Load("app.yaml", []byte(gatesApp+`    rollout: {}
    health: {path: /health}
    warmUp: {paths: [/]}
    errorRate: {prometheusURL: "http://prometheus:9090", maxPercent: 1}
    guard: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(apps[0].Spec.Gates)
	var defaulted map[string]map[string]any
	if err := json.Unmarshal(raw, &defaulted); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(spec.JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	gates := dig(schema, "properties", "spec", "properties", "gates", "properties")
	announced := 0
	for block, bs := range gates {
		for field, fs := range dig(bs.(map[string]any), "properties") {
			def, ok := fs.(map[string]any)["default"]
			got, filled := defaulted[block][field]
			if !ok {
				if filled && !(block == "guard" && field == "maxPercent") && !written(block, field) {
					t.Errorf("%s.%s: Default fills in %v, the schema announces no default", block, field, got)
				}
				continue
			}
			announced++
			if fmt.Sprint(got) != fmt.Sprint(def) {
				t.Errorf("%s.%s: the schema's default is %v, Default fills in %v", block, field, def, got)
			}
		}
	}
	if announced < 10 {
		t.Errorf("only %d defaults in the schema", announced)
	}
	if g := apps[0].Spec.Gates.Guard; g.MaxPercent == nil || *g.MaxPercent != 1 {
		t.Errorf("guard.maxPercent: %v, want errorRate.maxPercent (1)", g.MaxPercent)
	}
}

// written are the fields the test's spec sets itself.
func written(block, field string) bool {
	return map[string]bool{"health.path": true, "warmUp.paths": true, "errorRate.prometheusURL": true, "errorRate.maxPercent": true}[block+"."+field]
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// TestGatesValidation: each rule of spec.gates, with the line and field
// it names.
func TestGatesValidation(t *testing.T) {
	for name, tc := range map[string]struct{ gates, want string }{
		"bad duration":           {"    rollout: {timeout: 5 minutes}", `app.yaml:9: spec.gates.rollout.timeout: "5 minutes" is not a duration`},
		"zero duration":          {"    guard: {for: 0s}\n    errorRate: {prometheusURL: http://p:9090, maxPercent: 1}", `app.yaml:9: spec.gates.guard.for: "0s": want a positive duration`},
		"window under 1s":        {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, window: 500ms}", `spec.gates.errorRate.window: "500ms": want at least 1s`},
		"zero count":             {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, count: 0}", "app.yaml:9: spec.gates.errorRate.count: must be at least 1, got 0"},
		"negative attempts":      {"    health: {path: /h, attempts: -1}", "spec.gates.health.attempts: must be at least 1, got -1"},
		"failure limit >= count": {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, count: 3, failureLimit: 3}", "spec.gates.errorRate.failureLimit: 3 must be less than count (3)"},
		"negative failure limit": {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, failureLimit: -1}", "spec.gates.errorRate.failureLimit: must not be negative"},
		"noData":                 {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, noData: skip}", `spec.gates.errorRate.noData: "skip": want block`},
		"maxPercent 0":           {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 0}", "spec.gates.errorRate.maxPercent: 0: want a percentage greater than 0"},
		"maxPercent missing":     {"    errorRate: {prometheusURL: http://p:9090}", "spec.gates.errorRate.maxPercent: required"},
		"maxPercent over 100":    {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 101}", "spec.gates.errorRate.maxPercent: 101: want"},
		"prometheus not http":    {"    errorRate: {prometheusURL: \"prometheus:9090\", maxPercent: 1}", "spec.gates.errorRate.prometheusURL: not an absolute http or https URL"},
		"url credentials hidden": {"    health: {url: \"ftp://user:hunter2@x/\"}", "spec.gates.health.url: not an absolute http or https URL"},
		"path and url":           {"    health: {path: /h, url: http://x/}", "spec.gates.health: set path (requested through the API server's service proxy) or url (requested directly), not both"},
		"neither path nor url":   {"    health: {attempts: 2}", "spec.gates.health: set path"},
		"path without slash":     {"    health: {path: health}", `spec.gates.health.path: "health" must start with /`},
		"unknown port":           {"    health: {path: /h, port: metrics}", `spec.gates.health.port: "metrics" is not a port of spec.ports`},
		"container port":         {"    health: {path: /h, port: 8080}", "spec.gates.health.port: 8080 is the containerPort of http: the service proxy addresses the Service's port, 80"},
		"unknown placeholder":    {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, query: 'rate(x{app=\"{{name}}\"}[1m])'}", `spec.gates.errorRate.query: unknown placeholder at "{{name}}`},
		"empty warm-up":          {"    warmUp: {paths: []}", "spec.gates.warmUp.paths: at least one path is required"},
		"warm-up path":           {"    warmUp: {paths: [/, products]}", `spec.gates.warmUp.paths[1]: "products" must start with /`},
		"guard without source":   {"    guard: {for: 5m}", "app.yaml:9: spec.gates.guard: needs spec.gates.errorRate"},
		"null block":             {"    rollout:", "app.yaml:9: spec.gates.rollout: is null: write rollout: {}"},
		"unknown gate field":     {"    errorRate: {prometheusURL: http://p:9090, maxPercent: 1, treshold: 3}", `app.yaml:9: spec.gates.errorRate.treshold: unknown field`},
		"unknown gate":           {"    canary: {}", `app.yaml:9: spec.gates.canary: unknown field`},
	} {
		_, err := spec.Load("app.yaml", []byte(gatesApp+tc.gates+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the URL's password: %v", name, err)
		}
	}
	valid := gatesApp + `    rollout: {timeout: 10m}
    health: {path: /health, port: 80, attempts: 3}
    warmUp: {paths: [/, /products], requests: 2}
    errorRate: {prometheusURL: "https://prometheus:9090", maxPercent: 1.5, query: 'x{a="{{app}}",n="{{namespace}}",{{colorLabel}}="{{color}}"}[{{window}}]', count: 5, interval: 10s, failureLimit: 1, noData: pass}
    guard: {for: 10m, interval: 15s, maxPercent: 2}
`
	if _, err := spec.Load("app.yaml", []byte(valid)); err != nil {
		t.Errorf("valid gates: %v", err)
	}
}

// TestLoadGates reads a plain folder's gates file: defaults filled in,
// what was written told apart from what was defaulted, and errors located
// by line and field (the port is not checked: a plain folder has no
// spec.ports).
func TestLoadGates(t *testing.T) {
	g, err := spec.LoadGates(spec.GatesFile, []byte("# the gates of this folder\nrollout: {}\nhealth:\n  path: /health\n  port: 8443\nerrorRate:\n  prometheusURL: http://prometheus:9090\n  maxPercent: 2\n  count: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := g.Spec.ErrorRate
	if g.Spec.Rollout.Timeout != "5m" || *e.Count != 3 || *e.FailureLimit != 0 || e.NoData != spec.NoDataBlock || e.Interval != "30s" {
		t.Errorf("defaults: %+v %+v", g.Spec.Rollout, e)
	}
	if !g.Has("errorRate.count") || g.Has("errorRate.interval") {
		t.Error("Has does not tell written from defaulted")
	}
	if got := g.Where("errorRate.count"); got != "bgrender.gates:9 errorRate.count" {
		t.Errorf("Where: %s", got)
	}
	for input, want := range map[string]string{
		"":                                  "bgrender.gates: the file is empty",
		"- rollout\n":                       "bgrender.gates:1: expected a mapping of gates",
		"rollout: {timeout: soon}\n":        `bgrender.gates:1: rollout.timeout: "soon" is not a duration`,
		"health:\n  path: /h\n  tries: 3\n": "bgrender.gates:3: health.tries: unknown field",
		"warmUp:\n  paths: [/]\n  requests: -2\n": "bgrender.gates:3: warmUp.requests: must be at least 1, got -2",
		"apiVersion: v1\nkind: ConfigMap\n":       "bgrender.gates:1: apiVersion: unknown field",
	} {
		_, err := spec.LoadGates(spec.GatesFile, []byte(input))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", input, err, want)
		}
	}
}

func TestUnknownPlaceholder(t *testing.T) {
	for q, want := range map[string]string{
		"":                           "",
		"{{app}}{{color}}{{window}}": "",
		"a{{app}} {{ app }}":         "{{ app }}",
		"{{colorLabel}}{{colour}}":   "{{colour}}",
		"sum(x) / {{namespace}} {{":  "{{",
	} {
		if got := spec.UnknownPlaceholder(q); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
}
