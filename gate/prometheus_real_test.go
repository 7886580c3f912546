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
