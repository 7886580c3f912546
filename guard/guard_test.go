package guard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/guard"
)

// probe answers from a script, one entry per call, then the last forever.
func probe(name string, script ...func() (string, error)) (guard.Probe, *int) {
	calls := new(int)
	return guard.Probe{Name: name, Check: func(context.Context) (string, error) {
		i := min(*calls, len(script)-1)
		*calls++
		return script[i]()
	}}, calls
}

func ok() (string, error)        { return "", nil }
func failing() (string, error)   { return "", errors.New("connection refused") }
func breaching() (string, error) { return "error rate 7% is not under the maximum 1%", nil }

func TestWatch(t *testing.T) {
	for name, tc := range map[string]struct {
		script   []func() (string, error)
		breach   string
		err      string
		minCalls int
		reports  int
		maxCalls int
	}{
		"holds":                           {script: []func() (string, error){ok}, minCalls: 3, maxCalls: 7},
		"a transient error then a breach": {script: []func() (string, error){ok, failing, failing, breaching, ok}, breach: "error rate 7%", reports: 2, minCalls: 4, maxCalls: 4},
		"never read":                      {script: []func() (string, error){failing}, err: "could not be read in 300ms: connection refused", minCalls: 3},
	} {
		t.Run(name, func(t *testing.T) {
			p, calls := probe("error rate", tc.script...)
			var reports []string
			w := guard.Watch{For: 300 * time.Millisecond, Interval: 50 * time.Millisecond, Probes: []guard.Probe{p},
				Report: func(m string) { reports = append(reports, m) }}
			b, err := w.Run(context.Background())
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.breach == "" && b != nil:
				t.Fatalf("breach %v, want none", b)
			case tc.breach != "" && (b == nil || !strings.Contains(b.Error(), tc.breach)):
				t.Fatalf("breach %v, want %q", b, tc.breach)
			}
			if *calls < tc.minCalls || (tc.maxCalls > 0 && *calls > tc.maxCalls) {
				t.Errorf("%d probes, want %d to %d", *calls, tc.minCalls, tc.maxCalls)
			}
			if tc.reports > 0 && len(reports) != tc.reports {
				t.Errorf("reports %q, want %d", reports, tc.reports)
			}
		})
	}
}

// TestErrorRateReadings: the error-rate probe records every reading it
// takes against a real HTTP Prometheus API, with the time read, keeps the
// last Keep of them and counts them all; no data is a reading but not a
// measurement.
func TestErrorRateReadings(t *testing.T) {
	values := []string{`[{"metric":{},"value":[0,"0.5"]}]`, `[]`, `[{"metric":{},"value":[0,"2"]}]`, `[{"metric":{},"value":[0,"9.25"]}]`}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, values[min(calls, len(values)-1)])
		calls++
	}))
	defer srv.Close()
	clock := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	rec := &guard.Readings{Keep: 3, Now: func() time.Time { clock = clock.Add(10 * time.Second); return clock }}
	p := guard.ErrorRate(gate.ErrorRate{URL: srv.URL, Query: "q", Max: 5, Attempts: 1}, rec)
	if rec.Measured() {
		t.Fatal("measured before any reading")
	}
	var breach string
	for range values {
		var err error
		if breach, err = p.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if breach != "error rate 9.25% is not under the maximum 5%" {
		t.Errorf("breach %q", breach)
	}
	want := []gate.Measurement{
		{NoData: true, At: time.Date(2026, 12, 7, 21, 0, 20, 0, time.UTC)},
		{Percent: 2, At: time.Date(2026, 12, 7, 21, 0, 30, 0, time.UTC)},
		{Percent: 9.25, Failed: true, At: time.Date(2026, 12, 7, 21, 0, 40, 0, time.UTC)},
	}
	if !reflect.DeepEqual(rec.List, want) || rec.Taken != 4 || !rec.Measured() {
		t.Errorf("readings %+v (taken %d, measured %v), want %+v, 4 taken", rec.List, rec.Taken, rec.Measured(), want)
	}
}
