package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/spec"
)

// The gates of an app folder (spec.gates in bgrender.yaml, or a plain
// folder's bgrender.gates) run by default; each gate flag overrides one
// setting (pflag's Changed), and --no-spec-gates leaves the folder's gates
// out.

const (
	noSpecGatesFlag  = "no-spec-gates"
	noSpecGatesUsage = "do not run the gates the app folder declares (spec.gates in bgrender.yaml, or bgrender.gates beside plain manifests): only the gate flags count"
	// overrides ends the --help of every flag that a setting of
	// spec.gates also sets.
	overrides = " (overrides spec.gates.%s)"
)

// Where a setting came from.
const (
	fromFlag    = "flag"
	fromSpec    = "spec"
	fromDefault = "default"
)

// effectiveGates are the gates a command runs, with where each setting
// came from; -o json shows them.
type effectiveGates struct {
	// Spec is the file (and field) whose gates were read: "bgrender.yaml
	// spec.gates" or "bgrender.gates"; empty when the folder has none.
	Spec string `json:"spec,omitempty"`
	// NoSpecGates: --no-spec-gates left the folder's gates out.
	NoSpecGates bool `json:"noSpecGates,omitempty"`
	// Run names the gates that run, in order.
	Run []string `json:"run"`
	// Settings of the gates that run, by spec.gates field.
	Settings map[string]gateSetting `json:"settings"`
}

// gateSetting is one effective setting.
type gateSetting struct {
	Value any `json:"value"`
	// Source is flag, spec (written in the folder's gates) or default
	// (the spec's default when the gate's block is there, else the
	// flag's, which is the same).
	Source string `json:"source"`
	// From is the flag, or the file, line and field.
	From string `json:"from,omitempty"`
}

// setting binds a field of spec.gates to its flags and to the checks.
type setting struct {
	key   string   // the spec.gates field, e.g. errorRate.count
	gate  string   // the gate it belongs to, as enabled names it
	flags []string // the flags that set it
	// present: the folder's gates have the setting's block; apply copies
	// the spec's value into the checks; value is the effective one.
	present bool
	apply   func() error
	value   func() any
	// optional settings are shown only when set.
	optional bool
}

// merge applies the folder's gates fg to the settings no flag of fs set,
// and returns what runs. fg nil (no gates, or --no-spec-gates) leaves the
// flags as they are.
func merge(fs *pflag.FlagSet, fg *spec.FolderGates, rows []setting, running func(gate string) bool) (*effectiveGates, error) {
	eff := &effectiveGates{Settings: map[string]gateSetting{}}
	if fg != nil {
		eff.Spec = strings.TrimSpace(fg.File + " " + fg.Path)
	}
	sources := map[string]gateSetting{}
	for _, r := range rows {
		changed := ""
		for _, f := range r.flags {
			if fs.Changed(f) {
				changed = "--" + f
				break
			}
		}
		switch {
		case changed != "":
			sources[r.key] = gateSetting{Source: fromFlag, From: changed}
		case fg != nil && r.present:
			if err := r.apply(); err != nil {
				return nil, usageError("%s: %v", fg.Where(r.key), err)
			}
			if fg.Has(r.key) {
				sources[r.key] = gateSetting{Source: fromSpec, From: fg.Where(r.key)}
			} else {
				sources[r.key] = gateSetting{Source: fromDefault, From: strings.TrimSpace(fg.File + " " + strings.TrimPrefix(fg.Path+"."+r.key, "."))}
			}
		default:
			sources[r.key] = gateSetting{Source: fromDefault}
		}
	}
	for _, r := range rows {
		if !running(r.gate) {
			continue
		}
		v := r.value()
		if r.optional && (v == "" || v == nil) {
			continue
		}
		s := sources[r.key]
		s.Value = v
		eff.Settings[r.key] = s
	}
	return eff, nil
}

// checkSettings are the settings of the promotion gates (promote, deploy
// --wait, check); timeoutFlag is the rollout gate's wait.
func checkSettings(c *gate.Checks, g *spec.GatesSpec, timeoutFlag string) []setting {
	if g == nil {
		g = &spec.GatesSpec{}
	}
	dur := func(dst *time.Duration, s string) func() error {
		return func() error {
			d, err := time.ParseDuration(s)
			*dst = d
			return err
		}
	}
	var (
		ro = g.Rollout
		h  = g.Health
		w  = g.WarmUp
		e  = g.ErrorRate
	)
	if ro == nil {
		ro = &spec.RolloutGateSpec{}
	}
	if h == nil {
		h = &spec.HealthGateSpec{}
	}
	if w == nil {
		w = &spec.WarmUpGateSpec{}
	}
	if e == nil {
		e = &spec.ErrorRateGateSpec{}
	}
	i32 := func(dst *int, n *int32) func() error {
		return func() error {
			if n != nil {
				*dst = int(*n)
			}
			return nil
		}
	}
	return []setting{
		{key: "rollout", gate: "rollout", flags: []string{"require-rollout"}, present: g.Rollout != nil,
			apply: func() error { c.RequireRollout = true; return nil }, value: func() any { return c.RequireRollout }},
		{key: "rollout.timeout", gate: "rollout", flags: []string{timeoutFlag}, present: g.Rollout != nil,
			apply: dur(&c.Timeout, ro.Timeout), value: func() any { return c.Timeout.String() }},
		{key: "health.path", gate: "health", flags: []string{"health-path", "health-url"}, present: g.Health != nil, optional: true,
			apply: func() error { c.HealthPath = h.Path; return nil }, value: func() any { return c.HealthPath }},
		{key: "health.url", gate: "health", flags: []string{"health-url", "health-path"}, present: g.Health != nil, optional: true,
			apply: func() error { c.HealthURL = h.URL; return nil }, value: func() any { return gate.RedactURL(c.HealthURL) }},
		{key: "health.port", gate: "health", flags: []string{"health-port"}, present: g.Health != nil && h.Port != nil, optional: true,
			apply: func() error { c.HealthPort = h.Port.String(); return nil }, value: func() any { return c.HealthPort }},
		{key: "health.attempts", gate: "health", flags: []string{"health-attempts"}, present: g.Health != nil,
			apply: i32(&c.HealthAttempts, h.Attempts), value: func() any { return c.HealthAttempts }},
		{key: "warmUp.paths", gate: "warm-up", flags: []string{"warm"}, present: g.WarmUp != nil,
			apply: func() error { c.Warm = append([]string(nil), w.Paths...); return nil }, value: func() any { return c.Warm }},
		{key: "warmUp.requests", gate: "warm-up", flags: []string{"warm-requests"}, present: g.WarmUp != nil,
			apply: i32(&c.WarmRequests, w.Requests), value: func() any { return c.WarmRequests }},
		{key: "errorRate.prometheusURL", gate: "error-rate", flags: []string{"prometheus-url"}, present: g.ErrorRate != nil,
			apply: func() error { c.PrometheusURL = e.PrometheusURL; return nil }, value: func() any { return gate.RedactURL(c.PrometheusURL) }},
		{key: "errorRate.query", gate: "error-rate", flags: []string{"query"}, present: g.ErrorRate != nil && e.Query != "", optional: true,
			apply: func() error { c.Query = e.Query; return nil }, value: func() any { return c.Query }},
		{key: "errorRate.maxPercent", gate: "error-rate", flags: []string{"max-error-rate"}, present: g.ErrorRate != nil,
			apply: func() error { c.MaxErrorRate = e.MaxPercent; return nil }, value: func() any { return c.MaxErrorRate }},
		{key: "errorRate.window", gate: "error-rate", flags: []string{"window"}, present: g.ErrorRate != nil,
			apply: dur(&c.Window, e.Window), value: func() any { return c.Window.String() }},
		{key: "errorRate.count", gate: "error-rate", flags: []string{"measurements"}, present: g.ErrorRate != nil,
			apply: i32(&c.Measurements, e.Count), value: func() any { return max(c.Measurements, 1) }},
		{key: "errorRate.interval", gate: "error-rate", flags: []string{"measurement-interval"}, present: g.ErrorRate != nil,
			apply: dur(&c.MeasurementInterval, e.Interval), value: func() any { return c.MeasurementInterval.String() }},
		{key: "errorRate.failureLimit", gate: "error-rate", flags: []string{"failure-limit"}, present: g.ErrorRate != nil,
			apply: i32(&c.FailureLimit, e.FailureLimit), value: func() any { return c.FailureLimit }},
		{key: "errorRate.noData", gate: "error-rate", flags: []string{"allow-no-data"}, present: g.ErrorRate != nil,
			apply: func() error { c.AllowNoData = e.NoData == spec.NoDataPass; return nil }, value: func() any { return noData(c.AllowNoData) }},
	}
}

func noData(allow bool) string {
	if allow {
		return spec.NoDataPass
	}
	return spec.NoDataBlock
}

// mergeChecks applies the folder's gates to the checks of a promotion
// and validates the result.
func mergeChecks(fs *pflag.FlagSet, c *gate.Checks, timeoutFlag string, fg *spec.FolderGates, off bool) (*effectiveGates, error) {
	use := fg
	if off {
		use = nil
	}
	var g *spec.GatesSpec
	if use != nil {
		g = use.Spec
	}
	eff, err := merge(fs, use, checkSettings(c, g, timeoutFlag), func(name string) bool {
		for _, n := range enabled(c) {
			if n == name {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	eff.NoSpecGates = off && fg != nil
	eff.Run = enabled(c)
	if err := validateGateFlags(c, timeoutFlag); err != nil {
		if use != nil {
			return nil, fmt.Errorf("%w (with the gates of %s)", err, eff.Spec)
		}
		return nil, err
	}
	return eff, nil
}

// describe is the effective gates in one line, for standard error.
func (e *effectiveGates) describe() string {
	var fromFlags []string
	keys := make([]string, 0, len(e.Settings))
	for k := range e.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s := e.Settings[k]; s.Source == fromFlag {
			fromFlags = append(fromFlags, s.From)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gates %s", strings.Join(e.Run, ", "))
	switch {
	case e.NoSpecGates:
		fmt.Fprintf(&b, " (from flags only: --%s leaves out the gates of %s)", noSpecGatesFlag, e.Spec)
	case e.Spec != "":
		fmt.Fprintf(&b, " (from %s", e.Spec)
		if len(fromFlags) > 0 {
			fmt.Fprintf(&b, "; overridden by %s", strings.Join(dedupe(fromFlags), ", "))
		}
		b.WriteString(")")
	}
	return b.String()
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// standIn is the Prometheus URL that checks the form of the error-rate
// flags before the folder's gates are read; it is never requested.
const standIn = "http://spec-gates.invalid"

// flagsOnly checks the gate flags before the app folder is read (bad
// usage, exit 2, before Git or the cluster is contacted): each flag given
// must be valid, but a setting the folder's gates may still supply (the
// error-rate gate's URL or maximum) is not required yet: mergeChecks and
// mergeGuard check the whole.
func flagsOnly(fs *pflag.FlagSet, c *gate.Checks) *gate.Checks {
	probe := *c
	rate := fs.Changed("max-error-rate") || fs.Changed("query")
	if probe.PrometheusURL == "" && !fs.Changed("prometheus-url") && rate {
		probe.PrometheusURL = standIn
	}
	if probe.MaxErrorRate == 0 && !fs.Changed("max-error-rate") && probe.PrometheusURL != "" {
		probe.MaxErrorRate = 1
	}
	if !fs.Changed("measurements") && probe.FailureLimit > 0 {
		probe.Measurements = probe.FailureLimit + 1 // the spec's count may allow it
	}
	return &probe
}
