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
			{Color: "blue", Live: true, Deployment: "web-blue", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v1"}, Rollout: "complete"},
			{Color: "green", Deployment: "web-green", Found: true, Desired: 3, Ready: 3, Images: []string{"myapp:v2"}, Rollout: "complete"},
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
