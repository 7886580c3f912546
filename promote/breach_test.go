package promote

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
	"github.com/bgrender/bgrender/spec"
)

// TestRollbackCommitCarriesTheBreach: guard's rollback commit message is
// the template's text, then what guard saw (the readings as a table and a
// chart), then the trailers, which still parse.
func TestRollbackCommitCarriesTheBreach(t *testing.T) {
	ctx := context.Background()
	srv, url := overlayRepo(t, nil)
	tg := overlayTarget(t, url, "apps/production")
	for _, a := range []interface {
		Run(context.Context) (*Result, error)
	}{&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"}, &Promote{Target: tg}} {
		if _, err := a.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 7, 21, 9, 0, 0, time.UTC)
	b := &evidence.Breach{Color: "green", Probe: "error rate", Reason: "error rate 7.5% is not under the maximum 5%", At: at.Add(20 * time.Second),
		MaxPercent: 5, Window: "1m0s", Interval: "10s", Taken: 24, Readings: []gate.Measurement{
			{Percent: 0.4, At: at}, {Percent: 2.25, At: at.Add(10 * time.Second)}, {Percent: 7.5, Failed: true, At: at.Add(20 * time.Second)}}}
	rb := &Rollback{Target: tg, Reason: "guard: " + b.Reason, From: spec.Green}
	rb.Breach = b
	res, err := rb.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evidence != nil {
		t.Errorf("a direct commit without a runner's evidence got some: %+v", res.Evidence)
	}
	clone := srv.Clone(t, "gitops")
	goldenfile.Check(t, filepath.Join("testdata", "golden", "guard-rollback-commit.txt"), []byte(gittest.Git(t, clone, "log", "-1", "--format=%B")))
	if tr := gittest.Trailers(t, clone, "HEAD"); tr["Bgrender-Action"] != "rollback" || tr["Bgrender-From"] != "green" || tr["Bgrender-To"] != "blue" {
		t.Errorf("trailers after the breach: %v", tr)
	}
}
