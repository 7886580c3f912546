package spec_test

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

// TestMaxSurge: by default a color's new pods start together (100%); a
// number or a percentage of at least one pod is taken, and what would
// start no pod (with maxUnavailable 0 the rollout would never begin) is
// refused at its line.
func TestMaxSurge(t *testing.T) {
	apps, err := spec.Load("app.yaml", []byte(autoscaledApp))
	if err != nil {
		t.Fatal(err)
	}
	if got := apps[0].Spec.MaxSurge.String(); got != spec.DefaultMaxSurge {
		t.Errorf("default maxSurge %s, want %s", got, spec.DefaultMaxSurge)
	}
	for _, ok := range []string{"1", "25%", "100%", "200%"} {
		if _, err := spec.Load("app.yaml", []byte(autoscaledApp+"  maxSurge: "+ok+"\n")); err != nil {
			t.Errorf("maxSurge %s: %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"0":    "app.yaml:10: spec.maxSurge: must be 1 or more (or a percentage), got 0",
		"-2":   "app.yaml:10: spec.maxSurge: must be 1 or more (or a percentage), got -2",
		`"0%"`: `app.yaml:10: spec.maxSurge: "0%" must be at least 1%`,
		"half": `app.yaml:10: spec.maxSurge: "half": a valid percent string must be`,
	} {
		_, err := spec.Load("app.yaml", []byte(autoscaledApp+"  maxSurge: "+in+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("maxSurge %s: got %v\nwant %q", in, err, want)
		}
	}
}
