package gate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// The gates of an app folder (spec.gates in bgrender.yaml, or a plain
// folder's bgrender.gates) run by default; each gate flag overrides one
// setting, and --no-spec-gates leaves the folder's gates out. Merge and
// MergeGuard apply them; a command says which flags the user set through
// a Changed function (pflag's FlagSet.Changed).

// Changed reports whether the user set the flag named name.
type Changed func(name string) bool

// NoSpecGatesFlag is the flag that leaves the folder's gates out.
const NoSpecGatesFlag = "no-spec-gates"

// Where a setting came from.
const (
	FromFlag    = "flag"
	FromSpec    = "spec"
	FromDefault = "default"
)

// Effective are the gates a command runs, with where each setting came
// from; -o json shows them.
type Effective struct {
	// Spec is the file (and field) whose gates were read: "bgrender.yaml
	// spec.gates" or "bgrender.gates"; empty when the folder has none.
	Spec string `json:"spec,omitempty"`
	// NoSpecGates: --no-spec-gates left the folder's gates out.
	NoSpecGates bool `json:"noSpecGates,omitempty"`
	// Run names the gates that run, in order.
	Run []string `json:"run"`
	// Settings of the gates that run, by spec.gates field.
	Settings map[string]Setting `json:"settings"`
}

// Setting is one effective setting.
type Setting struct {
	Value any `json:"value"`
	// Source is flag, spec (written in the folder's gates) or default
	// (the spec's default when the gate's block is there, else the
	// flag's, which is the same).
	Source string `json:"source"`
	// From is the flag, or the file, line and field.
	From string `json:"from,omitempty"`
}

// binding binds a field of spec.gates to its flags and to the checks.
type binding struct {
	key   string   // the spec.gates field, e.g. errorRate.count
	gate  string   // the gate it belongs to, as Names names it
	flags []string // the flags that set it
	// present: the folder's gates have the setting's block; apply copies
	// the spec's value into the checks; value is the effective one.
	present bool
	apply   func() error
	value   func() any
	// optional settings are shown only when set.
	optional bool
}

// merge applies the folder's gates fg to the settings no flag set, and
// returns what runs. fg nil (no gates, or --no-spec-gates) leaves the
// flags as they are.
func merge(changed Changed, fg *spec.FolderGates, rows []binding, running func(gate string) bool) (*Effective, error) {
	eff := &Effective{Settings: map[string]Setting{}}
	if fg != nil {
		eff.Spec = strings.TrimSpace(fg.File + " " + fg.Path)
	}
	sources := map[string]Setting{}
	for _, r := range rows {
		s, err := source(changed, fg, r)
		if err != nil {
			return nil, err
		}
		sources[r.key] = s
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

// source applies one setting from the folder's gates, unless a flag set
// it, and says where its value comes from.
func source(changed Changed, fg *spec.FolderGates, r binding) (Setting, error) {
	for _, f := range r.flags {
		if changed(f) {
			return Setting{Source: FromFlag, From: "--" + f}, nil
		}
	}
	if fg == nil || !r.present {
		return Setting{Source: FromDefault}, nil
	}
	if err := r.apply(); err != nil {
		return Setting{}, exitcode.Invalidf("%s: %v", fg.Where(r.key), err)
	}
	if fg.Has(r.key) {
		return Setting{Source: FromSpec, From: fg.Where(r.key)}, nil
	}
	return Setting{Source: FromDefault, From: strings.TrimSpace(fg.File + " " + strings.TrimPrefix(fg.Path+"."+r.key, "."))}, nil
}

// parseDuration returns a binding's apply that parses s into dst.
func parseDuration(dst *time.Duration, s string, emptyKeeps bool) func() error {
	return func() error {
		if emptyKeeps && s == "" {
			return nil
		}
		d, err := time.ParseDuration(s)
		*dst = d
		return err
	}
}

// setInt returns a binding's apply that copies n, when set, into dst.
func setInt(dst *int, n *int32) func() error {
	return func() error {
		if n != nil {
			*dst = int(*n)
		}
		return nil
	}
}

// checkBindings are the settings of the promotion gates (promote, deploy
// --wait, check); timeoutFlag is the rollout gate's wait.
func checkBindings(c *Checks, g *spec.GatesSpec, timeoutFlag string) []binding {
	if g == nil {
		g = &spec.GatesSpec{}
	}
	ro := orEmpty(g.Rollout)
	h := orEmpty(g.Health)
	w := orEmpty(g.WarmUp)
	e := orEmpty(g.ErrorRate)
	return []binding{
		{key: "rollout", gate: "rollout", flags: []string{"require-rollout"}, present: g.Rollout != nil,
			apply: func() error { c.RequireRollout = true; return nil }, value: func() any { return c.RequireRollout }},
		{key: "capacity", gate: "capacity", flags: []string{"capacity"}, present: g.Capacity != nil,
			apply: func() error { c.Capacity = true; return nil }, value: func() any { return c.Capacity }},
		{key: "rollout.timeout", gate: "rollout", flags: []string{timeoutFlag}, present: g.Rollout != nil,
			apply: parseDuration(&c.Timeout, ro.Timeout, false), value: func() any { return c.Timeout.String() }},
		{key: "health.path", gate: "health", flags: []string{"health-path", "health-url"}, present: g.Health != nil, optional: true,
			apply: func() error { c.HealthPath = h.Path; return nil }, value: func() any { return c.HealthPath }},
		{key: "health.url", gate: "health", flags: []string{"health-url", "health-path"}, present: g.Health != nil, optional: true,
			apply: func() error { c.HealthURL = h.URL; return nil }, value: func() any { return RedactURL(c.HealthURL) }},
		{key: "health.port", gate: "health", flags: []string{"health-port"}, present: g.Health != nil && h.Port != nil, optional: true,
			apply: func() error { c.HealthPort = h.Port.String(); return nil }, value: func() any { return c.HealthPort }},
		{key: "health.attempts", gate: "health", flags: []string{"health-attempts"}, present: g.Health != nil,
			apply: setInt(&c.HealthAttempts, h.Attempts), value: func() any { return c.HealthAttempts }},
		{key: "warmUp.paths", gate: "warm-up", flags: []string{"warm"}, present: g.WarmUp != nil,
			apply: func() error { c.Warm = append([]string(nil), w.Paths...); return nil }, value: func() any { return c.Warm }},
		{key: "warmUp.requests", gate: "warm-up", flags: []string{"warm-requests"}, present: g.WarmUp != nil,
			apply: setInt(&c.WarmRequests, w.Requests), value: func() any { return c.WarmRequests }},
		{key: "errorRate.prometheusURL", gate: "error-rate", flags: []string{"prometheus-url"}, present: g.ErrorRate != nil,
			apply: func() error { c.PrometheusURL = e.PrometheusURL; return nil }, value: func() any { return RedactURL(c.PrometheusURL) }},
		{key: "errorRate.query", gate: "error-rate", flags: []string{"query"}, present: g.ErrorRate != nil && e.Query != "", optional: true,
			apply: func() error { c.Query = e.Query; return nil }, value: func() any { return c.Query }},
		{key: "errorRate.maxPercent", gate: "error-rate", flags: []string{"max-error-rate"}, present: g.ErrorRate != nil,
			apply: func() error { c.MaxErrorRate = e.MaxPercent; return nil }, value: func() any { return c.MaxErrorRate }},
		{key: "errorRate.window", gate: "error-rate", flags: []string{"window"}, present: g.ErrorRate != nil,
			apply: parseDuration(&c.Window, e.Window, false), value: func() any { return c.Window.String() }},
		{key: "errorRate.count", gate: "error-rate", flags: []string{"measurements"}, present: g.ErrorRate != nil,
			apply: setInt(&c.Measurements, e.Count), value: func() any { return max(c.Measurements, 1) }},
		{key: "errorRate.interval", gate: "error-rate", flags: []string{"measurement-interval"}, present: g.ErrorRate != nil,
			apply: parseDuration(&c.MeasurementInterval, e.Interval, false), value: func() any { return c.MeasurementInterval.String() }},
		{key: "errorRate.failureLimit", gate: "error-rate", flags: []string{"failure-limit"}, present: g.ErrorRate != nil,
			apply: setInt(&c.FailureLimit, e.FailureLimit), value: func() any { return c.FailureLimit }},
		{key: "errorRate.noData", gate: "error-rate", flags: []string{"allow-no-data"}, present: g.ErrorRate != nil,
			apply: func() error { c.AllowNoData = e.NoData == spec.NoDataPass; return nil }, value: func() any { return noData(c.AllowNoData) }},
	}
}

// orEmpty is *p, or a zero value when p is nil.
func orEmpty[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

func noData(allow bool) string {
	if allow {
		return spec.NoDataPass
	}
	return spec.NoDataBlock
}

// Merge applies the folder's gates fg to the checks of a promotion, under
// the flags that changed says the user set, and validates the result (bad
// usage, exit 2). off is --no-spec-gates; timeoutFlag names the rollout
// gate's wait in messages.
func Merge(changed Changed, c *Checks, timeoutFlag string, fg *spec.FolderGates, off bool) (*Effective, error) {
	if changed == nil { // no flag set: a caller that builds its checks itself
		changed = func(string) bool { return false }
	}
	use := fg
	if off {
		use = nil
	}
	var g *spec.GatesSpec
	if use != nil {
		g = use.Spec
	}
	eff, err := merge(changed, use, checkBindings(c, g, timeoutFlag), func(name string) bool {
		return slices.Contains(c.Names(), name)
	})
	if err != nil {
		return nil, err
	}
	eff.NoSpecGates = off && fg != nil
	eff.Run = c.Names()
	if err := ValidateFlags(c, timeoutFlag); err != nil {
		if use != nil {
			return nil, fmt.Errorf("%w (with the gates of %s)", err, eff.Spec)
		}
		return nil, err
	}
	return eff, nil
}

// Describe is the effective gates in one line, for standard error.
func (e *Effective) Describe() string {
	var fromFlags []string
	keys := make([]string, 0, len(e.Settings))
	for k := range e.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s := e.Settings[k]; s.Source == FromFlag && !slices.Contains(fromFlags, s.From) {
			fromFlags = append(fromFlags, s.From)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gates %s", strings.Join(e.Run, ", "))
	switch {
	case e.NoSpecGates:
		fmt.Fprintf(&b, " (from flags only: --%s leaves out the gates of %s)", NoSpecGatesFlag, e.Spec)
	case e.Spec != "":
		fmt.Fprintf(&b, " (from %s", e.Spec)
		if len(fromFlags) > 0 {
			fmt.Fprintf(&b, "; overridden by %s", strings.Join(fromFlags, ", "))
		}
		b.WriteString(")")
	}
	return b.String()
}

// Names names the gates the checks run, in the order they run.
func (c Checks) Names() []string {
	var names []string
	if len(c.ExpandJobs) > 0 && c.Image == "" {
		names = append(names, "migration")
	}
	if c.RequireRollout {
		names = append(names, "rollout")
	}
	if c.Capacity {
		names = append(names, "capacity")
	}
	if c.HealthPath != "" || c.HealthURL != "" {
		names = append(names, "health")
	}
	if len(c.Warm) > 0 {
		names = append(names, "warm-up")
	}
	if c.PrometheusURL != "" {
		names = append(names, "error-rate")
	}
	return names
}
