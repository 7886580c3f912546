package gate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
)

func TestRolloutRules(t *testing.T) {
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: "False", Reason: gate.ReasonDeadlineExceeded, Message: `ReplicaSet "web-green-abc" has timed out progressing.`}
	tests := map[string]struct {
		gen, observed                     int64
		replicas                          *int32
		status, updated, ready, available int32
		conds                             []appsv1.DeploymentCondition
		want                              gate.RolloutState
		msg                               string
	}{
		"generation not observed":    {gen: 2, observed: 1, replicas: ptr.To[int32](3), status: 3, updated: 3, ready: 3, available: 3, want: gate.RolloutProgressing, msg: "observe generation 2"},
		"updating":                   {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 3, updated: 1, want: gate.RolloutProgressing, msg: "1 of 3 replicas updated"},
		"old replicas remain":        {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 4, updated: 3, ready: 3, available: 3, want: gate.RolloutProgressing, msg: "1 old replicas pending termination"},
		"not ready":                  {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 3, updated: 3, ready: 2, available: 2, want: gate.RolloutProgressing, msg: "2 of 3 replicas ready"},
		"ready, not available":       {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 3, updated: 3, ready: 3, available: 1, want: gate.RolloutProgressing, msg: "1 of 3 replicas available"},
		"updated, not all available": {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 4, updated: 4, ready: 3, available: 3, want: gate.RolloutProgressing, msg: "3 of 4 updated replicas available"},
		"complete":                   {gen: 3, observed: 3, replicas: ptr.To[int32](3), status: 3, updated: 3, ready: 3, available: 3, want: gate.RolloutComplete},
		"scaled to zero":             {gen: 1, observed: 1, replicas: ptr.To[int32](0), want: gate.RolloutComplete},
		"replicas default to 1":      {gen: 1, observed: 1, status: 1, updated: 1, ready: 1, available: 0, want: gate.RolloutProgressing, msg: "0 of 1 replicas available"},
		"deadline exceeded":          {gen: 1, observed: 1, replicas: ptr.To[int32](3), status: 3, updated: 1, conds: []appsv1.DeploymentCondition{deadline}, want: gate.RolloutFailed, msg: "exceeded its progress deadline: ReplicaSet"},
		"deadline of an unobserved generation does not count": {gen: 2, observed: 1, replicas: ptr.To[int32](3), conds: []appsv1.DeploymentCondition{deadline}, want: gate.RolloutProgressing},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web-green", Generation: tc.gen},
				Spec:       appsv1.DeploymentSpec{Replicas: tc.replicas},
				Status: appsv1.DeploymentStatus{
					ObservedGeneration: tc.observed, Replicas: tc.status, UpdatedReplicas: tc.updated,
					ReadyReplicas: tc.ready, AvailableReplicas: tc.available, Conditions: tc.conds,
				},
			}
			got, msg := gate.Rollout(d)
			if got != tc.want || !strings.Contains(msg, tc.msg) {
				t.Errorf("Rollout = %s, %q; want %s, containing %q", got, msg, tc.want, tc.msg)
			}
		})
	}
}

func TestTargetURL(t *testing.T) {
	direct, err := gate.Direct("https://preview.example.com/base")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"":                "https://preview.example.com/base",
		"/health":         "https://preview.example.com/base/health",
		"health?full=1":   "https://preview.example.com/base/health?full=1",
		"/":               "https://preview.example.com/base/",
		"/warm/products/": "https://preview.example.com/base/warm/products/",
	} {
		if got := direct.URL(path); got != want {
			t.Errorf("URL(%q) = %q, want %q", path, got, want)
		}
	}
	if _, err := gate.Direct("preview.example.com/health"); err == nil {
		t.Error("Direct accepted a URL without a scheme")
	}
}

// assertRefused checks that err is a refusal of gate (exit 3) whose message
// contains each of parts.
func assertRefused(t *testing.T, err error, gateName string, parts ...string) {
	t.Helper()
	var r *gate.Refused
	if !errors.As(err, &r) || r.Gate != gateName {
		t.Fatalf("got %v, want a refusal by the %s gate", err, gateName)
	}
	if code := exitcode.Of(err); code != exitcode.Refused {
		t.Errorf("exit code %d, want %d", code, exitcode.Refused)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestHealthRetriesWithBackoff(t *testing.T) {
	var calls atomic.Int32
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		times = append(times, time.Now())
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) < 3 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	target, _ := gate.Direct(srv.URL)
	var progress []string
	h := gate.Health{Target: target, Path: "/health", Attempts: 4, Backoff: 20 * time.Millisecond, Progress: func(m string) { progress = append(progress, m) }}
	if err := h.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(progress) != 2 {
		t.Fatalf("calls %d, progress %q; want 3 calls, 2 reported failures", calls.Load(), progress)
	}
	if gap1, gap2 := times[1].Sub(times[0]), times[2].Sub(times[1]); gap1 < 20*time.Millisecond || gap2 < 40*time.Millisecond {
		t.Errorf("waits %v, %v; want at least 20ms then 40ms", gap1, gap2)
	}

	h.Path = "/missing"
	h.Progress = nil
	err := h.Run(context.Background())
	assertRefused(t, err, "health", "/missing failed 4 times", "HTTP 404")
}

func TestHealthUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens any more
	target, _ := gate.Direct(srv.URL)
	err := gate.Health{Target: target, Path: "/health", Attempts: 2, Backoff: time.Millisecond}.Run(context.Background())
	assertRefused(t, err, "health", "failed 2 times", "connection refused")
}

func TestWarm(t *testing.T) {
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits[r.URL.RequestURI()]++
		switch r.URL.Path {
		case "/boom":
			http.Error(w, "cache backend down", http.StatusBadGateway)
		case "/nope":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	target, _ := gate.Direct(srv.URL)
	if err := (gate.Warm{Target: target, Paths: []string{"/", "/products?page=1", "/nope"}, Requests: 3}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hits["/"] != 3 || hits["/products?page=1"] != 3 || hits["/nope"] != 3 {
		t.Errorf("hits %v; want 3 of each", hits)
	}
	err := gate.Warm{Target: target, Paths: []string{"/boom"}}.Run(context.Background())
	assertRefused(t, err, "warm-up", "/boom: HTTP 502: cache backend down")
}

func TestExpandQuery(t *testing.T) {
	got := gate.ExpandQuery(gate.DefaultErrorRateQuery, gate.QueryVars{App: "web", ColorLabel: "bgrender.io/color", Color: "green", Window: 2 * time.Minute})
	want := `100 * sum(rate(http_requests_total{app_kubernetes_io_name="web",bgrender_io_color="green",code=~"5.."}[120s]))` +
		` / sum(rate(http_requests_total{app_kubernetes_io_name="web",bgrender_io_color="green"}[120s]))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestErrorRateAnswers checks how ErrorRate reads Prometheus' answers; the
// real Prometheus is in TestErrorRatePrometheus.
func TestErrorRateAnswers(t *testing.T) {
	answer := func(data string) string { return `{"status":"success","data":` + data + `}` }
	tests := map[string]struct {
		status  int
		body    string
		max     float64
		noData  bool
		refused string // gate refuses with this text
		failed  string // runtime error with this text
		invalid string // bad input (exit 2) with this text
	}{
		"vector under":    {body: answer(`{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}`), max: 1},
		"vector over":     {body: answer(`{"resultType":"vector","result":[{"metric":{},"value":[1,"2.5"]}]}`), max: 1, refused: "error rate 2.5% is not under the maximum 1%"},
		"at threshold":    {body: answer(`{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}`), max: 1, refused: "error rate 1%"},
		"highest series":  {body: answer(`{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"0.1"]},{"metric":{"pod":"b"},"value":[1,"7"]}]}`), max: 5, refused: "error rate 7%"},
		"scalar":          {body: answer(`{"resultType":"scalar","result":[1,"0"]}`), max: 1},
		"no data":         {body: answer(`{"resultType":"vector","result":[]}`), max: 1, refused: "query returned no data"},
		"no data allowed": {body: answer(`{"resultType":"vector","result":[]}`), max: 1, noData: true},
		"NaN is no data":  {body: answer(`{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}`), max: 1, refused: "no data"},
		"bad query":       {status: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error"}`, max: 1, invalid: "Prometheus rejects the query: bad_data: parse error"},
		"not prometheus":  {status: 502, body: `<html>bad gateway</html>`, max: 1, failed: "not a Prometheus API answer"},
		"matrix":          {body: answer(`{"resultType":"matrix","result":[]}`), max: 1, failed: "want a scalar or an instant vector"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.URL.Path != "/prom/api/v1/query" || r.URL.Query().Get("query") != "rate_query" {
					t.Errorf("request %s", r.URL)
				}
				w.Header().Set("Content-Type", "application/json")
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			g := gate.ErrorRate{URL: srv.URL + "/prom", Query: "rate_query", Max: tc.max, AllowNoData: tc.noData, Attempts: 2, RetryWait: time.Millisecond}
			err := g.Run(context.Background())
			switch {
			case tc.refused != "":
				assertRefused(t, err, "error-rate", tc.refused)
			case tc.invalid != "":
				// The query itself is wrong: bad input, asked once.
				if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), tc.invalid) || calls.Load() != 1 {
					t.Fatalf("got %v (exit %d, %d calls), want bad input containing %q, asked once", err, exitcode.Of(err), calls.Load(), tc.invalid)
				}
			case tc.failed != "":
				if err == nil || exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), tc.failed) {
					t.Fatalf("got %v (exit %d), want a runtime failure containing %q", err, exitcode.Of(err), tc.failed)
				}
				if calls.Load() != 2 {
					t.Errorf("%d calls, want 2 (retried)", calls.Load())
				}
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}
