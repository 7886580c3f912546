package gate_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

// traffic sets an app color's request rate and the share that answers 5xx.
func traffic(exp *promtest.Exporter, app, color string, perSecond, errorPercent float64) {
	series := func(code string) string {
		return fmt.Sprintf(`http_requests_total{app_kubernetes_io_name=%q,bgrender_io_color=%q,code=%q}`, app, color, code)
	}
	exp.SetRate(series("200"), perSecond*(100-errorPercent)/100)
	exp.SetRate(series("503"), perSecond*errorPercent/100)
}

// TestErrorRatePrometheus runs the error-rate gate's default query against
// a real Prometheus that scrapes an exporter whose counters the test sets:
// the gate passes under the threshold, refuses at or above it with the
// value, refuses without data (unless told to allow it), follows a rate
// that rises, and fails (exit 1, not 3) when Prometheus is unreachable.
func TestErrorRatePrometheus(t *testing.T) {
	exp := promtest.NewExporter()
	traffic(exp, "web", "green", 200, 0.5)
	traffic(exp, "api", "green", 50, 4)
	traffic(exp, "web", "blue", 100, 30) // the other color's errors must not count
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	query := func(app, color string) string {
		// A 5s window: with 1s scrapes, rate() has samples after 2s.
		return gate.ExpandQuery(gate.DefaultErrorRateQuery, gate.QueryVars{App: app, ColorLabel: "bgrender.io/color", Color: color, Window: 5 * time.Second})
	}
	prom.WaitFor(t, ctx, query("web", "green"))
	prom.WaitFor(t, ctx, query("api", "green"))

	measure := func(app, color string) float64 {
		t.Helper()
		v, err := gate.ErrorRate{URL: prom.URL, Query: query(app, color)}.Measure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := measure("web", "green"); math.Abs(v-0.5) > 0.01 {
		t.Errorf("web green error rate %v%%, want 0.5%%", v)
	}
	if err := (gate.ErrorRate{URL: prom.URL, Query: query("web", "green"), Max: 1}).Run(ctx); err != nil {
		t.Errorf("gate refused 0.5%% with a 1%% maximum: %v", err)
	}
	// Query that Prometheus rejects as bad_data: bad input, at once.
	start := time.Now()
	if _, err := (gate.ErrorRate{URL: prom.URL, Query: "sum(", Attempts: 5, RetryWait: time.Second}).Measure(ctx); exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "Prometheus rejects the query") {
		t.Errorf("bad PromQL: %v (exit %d)", err, exitcode.Of(err))
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("bad PromQL was retried (%s)", took)
	}

	if v := measure("api", "green"); math.Abs(v-4) > 0.01 {
		t.Errorf("api green error rate %v%%, want 4%%", v)
	}
	err := gate.ErrorRate{URL: prom.URL, Query: query("api", "green"), Max: 1}.Run(ctx)
	assertRefused(t, err, "error-rate", "error rate 4", "is not under the maximum 1%", `app_kubernetes_io_name="api"`)
	if err := (gate.ErrorRate{URL: prom.URL, Query: query("api", "green"), Max: 5}).Run(ctx); err != nil {
		t.Errorf("gate refused 4%% with a 5%% maximum: %v", err)
	}

	err = gate.ErrorRate{URL: prom.URL, Query: query("shop", "green"), Max: 1}.Run(ctx)
	assertRefused(t, err, "error-rate", "query returned no data")
	if err := (gate.ErrorRate{URL: prom.URL, Query: query("shop", "green"), Max: 1, AllowNoData: true}).Run(ctx); err != nil {
		t.Errorf("AllowNoData: %v", err)
	}

	// The rate rises: within a window or two the gate refuses.
	traffic(exp, "web", "green", 200, 20)
	began := time.Now()
	for {
		err := gate.ErrorRate{URL: prom.URL, Query: query("web", "green"), Max: 1}.Run(ctx)
		var refused *gate.Refused
		if errors.As(err, &refused) {
			t.Logf("refused %s after the rate rose: %v", time.Since(began).Round(100*time.Millisecond), err)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(began) > 20*time.Second {
			t.Fatal("the gate still passes 20s after the error rate rose to 20%")
		}
		time.Sleep(500 * time.Millisecond)
	}

	down := httptest.NewServer(nil)
	down.Close()
	err = gate.ErrorRate{URL: down.URL, Query: query("web", "green"), Max: 1, Attempts: 2, RetryWait: 10 * time.Millisecond}.Run(ctx)
	if err == nil || exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), "2 attempts") {
		t.Errorf("unreachable Prometheus: %v (exit %d), want a runtime failure after 2 attempts", err, exitcode.Of(err))
	}
}

// TestErrorRateMeasurements runs the error-rate gate with the semantics
// of an Argo Rollouts AnalysisTemplate against a real Prometheus: count
// measurements interval apart, a refusal once more than failureLimit have
// failed (and not before), a measurement without data that blocks
// (refuses) unless noData is pass, and a failing query that blocks too
// (exit 1, never a pass).
func TestErrorRateMeasurements(t *testing.T) {
	exp := promtest.NewExporter()
	traffic(exp, "web", "green", 200, 0.5)
	traffic(exp, "api", "green", 50, 4)
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	query := func(app string) string {
		return gate.ExpandQuery(gate.DefaultErrorRateQuery, gate.QueryVars{App: app, ColorLabel: "bgrender.io/color", Color: "green", Window: 5 * time.Second})
	}
	prom.WaitFor(t, ctx, query("web"))
	prom.WaitFor(t, ctx, query("api"))
	run := func(g gate.ErrorRate) (error, []string, time.Duration) {
		var seen []string
		g.URL, g.Progress = prom.URL, func(m string) { seen = append(seen, m) }
		start := time.Now()
		err := g.Run(ctx)
		return err, seen, time.Since(start)
	}

	// 0.5% under 1%: three measurements, a second apart, all pass.
	err, seen, took := run(gate.ErrorRate{Query: query("web"), Max: 1, Count: 3, Interval: time.Second})
	if err != nil || len(seen) != 3 || took < 2*time.Second {
		t.Errorf("passing rate: %v after %s, measurements %q; want 3 measurements over at least 2s", err, took, seen)
	}
	// 4% over 1% with a failure limit of 2: the third failure refuses.
	err, seen, _ = run(gate.ErrorRate{Query: query("api"), Max: 1, Count: 5, Interval: 200 * time.Millisecond, FailureLimit: 2})
	assertRefused(t, err, "error-rate", "measurement 3 of 5", "3 of 5 measurements failed, more than the failure limit 2")
	if len(seen) != 3 {
		t.Errorf("measured %d times, want 3 (the gate stops at the failure that exceeds the limit): %q", len(seen), seen)
	}
	// Failure limit 0: the first failure refuses at once.
	err, seen, took = run(gate.ErrorRate{Query: query("api"), Max: 1, Count: 3, Interval: 10 * time.Second})
	assertRefused(t, err, "error-rate", "measurement 1 of 3")
	if len(seen) != 1 || took > 5*time.Second {
		t.Errorf("failure limit 0: %d measurements in %s", len(seen), took)
	}
	// The rate rises while the gate measures: the failures within the
	// limit are tolerated, the one beyond it refuses.
	traffic(exp, "shop", "green", 200, 0.2)
	prom.WaitFor(t, ctx, query("shop"))
	rose := false
	g := gate.ErrorRate{Query: query("shop"), Max: 1, Count: 30, Interval: 500 * time.Millisecond, FailureLimit: 2}
	g.URL = prom.URL
	var log []string
	g.Progress = func(m string) {
		log = append(log, m)
		if !rose {
			rose = true
			traffic(exp, "shop", "green", 200, 30)
		}
	}
	err = g.Run(ctx)
	assertRefused(t, err, "error-rate", "3 of 30 measurements failed, more than the failure limit 2")
	if fails := strings.Count(strings.Join(log, "\n"), "failed (maximum"); fails != 3 || !strings.Contains(log[0], "0.2%") {
		t.Errorf("measurements: %q; want the first to pass at 0.2%% and exactly 3 failures", log)
	}

	// No data: blocked (exit 3) on the first measurement, unless noData pass.
	err, seen, _ = run(gate.ErrorRate{Query: query("none"), Max: 1, Count: 3, Interval: 100 * time.Millisecond})
	assertRefused(t, err, "error-rate", "measurement 1 of 3: blocked: the measurement is inconclusive: query returned no data")
	if exitcode.Of(err) != exitcode.Refused || len(seen) != 0 {
		t.Errorf("no data: exit %d, %q", exitcode.Of(err), seen)
	}
	if err, seen, _ := run(gate.ErrorRate{Query: query("none"), Max: 1, Count: 2, Interval: 100 * time.Millisecond, AllowNoData: true}); err != nil || len(seen) != 2 {
		t.Errorf("noData pass: %v, %q", err, seen)
	}

	// A query that fails blocks as well: never a pass, exit 1.
	down := httptest.NewServer(nil)
	down.Close()
	err = gate.ErrorRate{URL: down.URL, Query: query("web"), Max: 1, Count: 3, Interval: 10 * time.Millisecond, Attempts: 2, RetryWait: 10 * time.Millisecond}.Run(ctx)
	if err == nil || exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), "measurement 1 of 3: blocked: the measurement is inconclusive") {
		t.Errorf("unreachable Prometheus: %v (exit %d)", err, exitcode.Of(err))
	}
}
