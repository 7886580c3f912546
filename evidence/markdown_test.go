package evidence_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
	"github.com/bgrender/bgrender/status"
)

// sample is a gated promotion as the release runner assembles it.
func sample() *evidence.Evidence {
	ev := &evidence.Evidence{
		Plan: []evidence.Step{
			{Step: 1, Kind: "gates", Description: "rollout, health, error-rate on green", Status: "done"},
			{Step: 2, Kind: "commit", Description: "promote to green", Status: evidence.ThisChange},
			{Step: 3, Kind: "wait-live", Description: "until the live Service serves the committed color with only ready endpoints (at most 5m0s)", Status: "planned"},
		},
		Namespace: "production", Live: "blue",
		Colors: []status.Color{
			{Color: "blue", Live: true, Deployment: "web-blue", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v1"}, Rollout: "complete",
				ReplicaSet: &status.ReplicaSet{Name: "web-blue-5d8f9c7b6", Revision: 4, Created: time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)},
				Autoscaler: &status.Autoscaler{Name: "web-blue", Current: 3, Desired: 4, Min: 2, Max: 10}},
			{Color: "green", Deployment: "web-green", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v2"}, Rollout: "complete",
				ReplicaSet: &status.ReplicaSet{Name: "web-green-7c9d8b5f4", Revision: 5, Created: time.Date(2026, 12, 7, 20, 51, 40, 0, time.UTC)}},
		},
		Gates: []gate.Result{
			{Gate: "rollout", Color: "green", Outcome: gate.Passed, Measured: "Deployment web-green: deployment \"web-green\" successfully rolled out", Threshold: "rolled out within 5m0s"},
			{Gate: "health", Color: "green", Outcome: gate.Passed, Measured: "GET /health via Service web-preview: HTTP 200 after 1 attempt", Threshold: "2xx or 3xx within 5 attempts"},
			{Gate: "error-rate", Color: "green", Outcome: gate.Passed, Measured: "error rate 0.2%, 0.4%", Threshold: "under 1% over 1m0s, 2 measurements, at most 0 failed",
				Readings: []gate.Measurement{{Percent: 0.2}, {Percent: 0.4}}},
		},
		ReadAt: time.Date(2026, 12, 7, 21, 4, 5, 0, time.UTC),
	}
	ev.NotRun = evidence.NotRunOf(ev.Gates, "not asked for")
	return ev
}

func TestMarkdownGolden(t *testing.T) {
	c := &gitops.Change{Action: "promote", App: "web", From: "blue", To: "green", Summary: "switch traffic from blue to green"}
	ev := sample().For(c, evidence.Folder{Active: "blue"})
	ev.Path = "apps/web"
	diff := "--- a/apps/web/service.yaml\n+++ b/apps/web/service.yaml\n@@ -8 +8 @@\n-    version: blue\n+    version: green\n"
	goldenfile.Check(t, filepath.Join("testdata", "golden", "promote.md"), []byte(ev.Markdown(diff)))
}

func TestMarkdownKeepsTablesAndBlocksWhole(t *testing.T) {
	ev := &evidence.Evidence{Action: "promote", App: "web",
		Gates:       []gate.Result{{Gate: "health", Color: "green", Outcome: gate.RefusedGate, Measured: "HTTP 503: a|b\n<script>x</script>"}},
		ClusterNote: "Get \"https://k8s.example\": dial tcp: connection refused"}
	got := ev.Markdown("+ ``` not a fence\n")
	for _, want := range []string{`| health | green | **refused** | HTTP 503: a\|b &lt;script&gt;x&lt;/script&gt; | – |`, "The cluster was not read: ", "+ ` ` ` not a fence"} {
		if !strings.Contains(got, want) {
			t.Errorf("body lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<script>") {
		t.Errorf("HTML from a measurement reached the body:\n%s", got)
	}
}

func TestSentence(t *testing.T) {
	w := int32(10)
	before := evidence.Folder{Active: "blue", Images: map[string]string{"blue": "myapp:v1", "green": "myapp:v1"}, Weight: &w}
	tests := map[string]struct {
		c    gitops.Change
		want string
	}{
		"promote":  {gitops.Change{Action: "promote", From: "blue", To: "green", Summary: "switch traffic from blue to green"}, "Selector blue → green: switch traffic from blue to green."},
		"rollback": {gitops.Change{Action: "rollback", From: "green", To: "blue", Summary: "switch traffic back from green to blue"}, "Selector green → blue: switch traffic back from green to blue."},
		"deploy":   {gitops.Change{Action: "deploy", From: "blue", To: "green", Image: "myapp:v2", Summary: "run myapp:v2 on green"}, "Image of green myapp:v1 → myapp:v2: run myapp:v2 on green."},
		"shift":    {gitops.Change{Action: "shift", From: "blue", To: "green", Summary: "send 50% of traffic to green (blue keeps 50%)"}, "Weight of green was 10%: send 50% of traffic to green (blue keeps 50%)."},
		"scale":    {gitops.Change{Action: "scale-idle", Summary: "scale green from 3 to 0 replicas"}, "Scale green from 3 to 0 replicas."},
	}
	for name, tc := range tests {
		if got := evidence.Sentence(&tc.c, before); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

// breachSample is what guard saw before a rollback: nine readings every
// 10s, one without data, the last one over the maximum.
func breachSample() *evidence.Breach {
	at := time.Date(2026, 12, 7, 21, 9, 0, 0, time.UTC)
	var rs []gate.Measurement
	for i, v := range []float64{0.2, 0.3, -1, 0.25, 0.4, 0.6, 0.9, 3.2, 7.5} {
		m := gate.Measurement{Percent: v, Failed: v >= 5, At: at.Add(time.Duration(i) * 10 * time.Second)}
		if v < 0 {
			m = gate.Measurement{NoData: true, At: m.At}
		}
		rs = append(rs, m)
	}
	return &evidence.Breach{Color: "green", Probe: "error rate", Reason: "error rate 7.5% is not under the maximum 5%",
		At: at.Add(80 * time.Second), MaxPercent: 5, Window: "1m0s", Interval: "10s", Readings: rs, Taken: 9}
}

// TestRollbackBodyGolden is guard's rollback pull request: the breach,
// its readings in a table and a Mermaid chart, above the colors.
func TestRollbackBodyGolden(t *testing.T) {
	c := &gitops.Change{Action: "rollback", App: "web", From: "green", To: "blue",
		Summary: "switch traffic back from green to blue: guard: error rate 7.5% is not under the maximum 5%"}
	ev := &evidence.Evidence{Namespace: "production", Live: "green", Gates: []gate.Result{}, ReadAt: time.Date(2026, 12, 7, 21, 10, 21, 0, time.UTC),
		Colors: []status.Color{
			{Color: "blue", Deployment: "web-blue", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v1"}, Rollout: "complete"},
			{Color: "green", Live: true, Deployment: "web-green", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v2"}, Rollout: "complete"},
		}}
	ev = ev.For(c, evidence.Folder{Active: "green"})
	ev.Path, ev.Breach = "apps/web", breachSample()
	ev.NotRun = evidence.NotRunOf(ev.Gates, "not asked for")
	goldenfile.Check(t, filepath.Join("testdata", "golden", "guard-rollback.md"), []byte(ev.Markdown("")))
}

// TestBreachMarkdown: the table is bounded and says so, readings within
// one second show milliseconds, and a breach without readings (readiness,
// no traffic) has no table and no chart.
func TestBreachMarkdown(t *testing.T) {
	b := breachSample()
	b.Taken = 31
	if got := b.Markdown(); !strings.Contains(got, "The last 9 of the 31 error-rate readings guard took of green, every 10s:") {
		t.Errorf("a cut table does not say so:\n%s", got)
	}
	b.Readings[1].At = b.Readings[0].At.Add(250 * time.Millisecond)
	if got := b.Markdown(); !strings.Contains(got, "| 21:09:00.250 | 0.3% |") || !strings.Contains(got, `"21:09:00.000", "21:09:00.250"`) {
		t.Errorf("readings within a second are not told apart:\n%s", got)
	}
	b = &evidence.Breach{Color: "blue", Probe: "readiness", Reason: "deployment prod/web-blue has 0 of 3 replicas available", At: b.At, MaxPercent: 1, Interval: "10s"}
	got := b.Markdown()
	if !strings.Contains(got, "Guard took no error-rate reading of blue.") || strings.Contains(got, "mermaid") || strings.Contains(got, "|") {
		t.Errorf("a breach without readings:\n%s", got)
	}
	b.Readings = []gate.Measurement{{NoData: true, At: b.At}}
	if got := b.Markdown(); !strings.Contains(got, "| no data |") || strings.Contains(got, "mermaid") {
		t.Errorf("readings without data are no chart:\n%s", got)
	}
}
