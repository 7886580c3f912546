package gate

import (
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// guardBindings bind guard's flags to spec.gates: the error rate is read
// as errorRate reads it (prometheusURL, query, window, noData), and the
// watch is guard's (for, interval, maxPercent, which defaults to
// errorRate.maxPercent). Without a guard block, errorRate alone is enough.
func guardBindings(c *Checks, window, interval *time.Duration, g *spec.GatesSpec) []binding {
	if g == nil {
		g = &spec.GatesSpec{}
	}
	e, gd := orEmpty(g.ErrorRate), orEmpty(g.Guard)
	src := g.ErrorRate != nil
	return []binding{
		{key: "errorRate.prometheusURL", gate: "guard", flags: []string{"prometheus-url"}, present: src,
			apply: func() error { c.PrometheusURL = e.PrometheusURL; return nil }, value: func() any { return RedactURL(c.PrometheusURL) }},
		{key: "errorRate.query", gate: "guard", flags: []string{"query"}, present: src && e.Query != "", optional: true,
			apply: func() error { c.Query = e.Query; return nil }, value: func() any { return c.Query }},
		{key: "errorRate.window", gate: "guard", flags: []string{"window"}, present: src,
			apply: parseDuration(&c.Window, e.Window, true), value: func() any { return c.Window.String() }},
		{key: "errorRate.noData", gate: "guard", flags: []string{"allow-no-data"}, present: src,
			apply: func() error { c.AllowNoData = e.NoData == spec.NoDataPass; return nil }, value: func() any { return noData(c.AllowNoData) }},
		{key: "guard.maxPercent", gate: "guard", flags: []string{"max-error-rate"}, present: src,
			apply: func() error {
				c.MaxErrorRate = e.MaxPercent
				if gd.MaxPercent != nil {
					c.MaxErrorRate = *gd.MaxPercent
				}
				return nil
			}, value: func() any { return c.MaxErrorRate }},
		{key: "guard.for", gate: "guard", flags: []string{"for"}, present: g.Guard != nil,
			apply: parseDuration(window, gd.For, true), value: func() any { return window.String() }},
		{key: "guard.interval", gate: "guard", flags: []string{"interval"}, present: g.Guard != nil,
			apply: parseDuration(interval, gd.Interval, true), value: func() any { return interval.String() }},
	}
}

// MergeGuard applies the folder's gates to guard's settings (the error-rate
// checks, how long and how often to watch) under the flags the user set,
// and checks the result (bad usage, exit 2).
func MergeGuard(changed Changed, c *Checks, window, interval *time.Duration, fg *spec.FolderGates, off bool) (*Effective, error) {
	use := fg
	if off {
		use = nil
	}
	var g *spec.GatesSpec
	if use != nil {
		g = use.Spec
	}
	eff, err := merge(changed, use, guardBindings(c, window, interval, g), func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	eff.NoSpecGates, eff.Run = off && fg != nil, []string{"guard"}
	switch {
	case c.PrometheusURL == "" && use != nil && use.Spec.ErrorRate == nil && use.Spec.Guard == nil:
		return nil, exitcode.Invalidf("--prometheus-url and --max-error-rate are required: %s has no errorRate gate to read them from", eff.Spec)
	case c.PrometheusURL == "":
		return nil, exitcode.Invalidf("--prometheus-url and --max-error-rate are required (or spec.gates.errorRate in the app folder)")
	case *window <= 0:
		return nil, exitcode.Invalidf("--for %s: want a positive duration", *window)
	case *interval <= 0:
		return nil, exitcode.Invalidf("--interval %s: want a positive duration", *interval)
	}
	if err := ValidateErrorRate(c); err != nil {
		return nil, err
	}
	return eff, nil
}
