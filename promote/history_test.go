package promote

import (
	"context"
	"testing"
)

// TestReadHistory: the folder's history says whether the idle color runs
// an image deployed since it was last live, and which action made the
// live color live, after each of a deploy, a promote, a rollback and
// another deploy (an overlay: its base is read from each commit too).
func TestReadHistory(t *testing.T) {
	ctx := context.Background()
	_, url := overlayRepo(t, nil)
	tg := overlayTarget(t, url, "apps/production")
	for _, step := range []struct {
		name   string
		action interface {
			Run(context.Context) (*Result, error)
		}
		idleNew bool
		flip    string
	}{
		{"a deploy", &Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"}, true, ""},
		{"its promote", &Promote{Target: tg}, false, "promote"},
		{"a rollback", &Rollback{Target: tg}, false, "rollback"},
		{"another deploy", &Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.7.0"}, true, "rollback"},
	} {
		if _, err := step.action.Run(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		st, h, err := tg.ReadHistory(ctx)
		if err != nil {
			t.Fatalf("after %s: %v", step.name, err)
		}
		if h.IdleNew != step.idleNew || h.Flip != step.flip {
			t.Errorf("after %s (%s live on %s, idle %s): %+v, want IdleNew %v, Flip %q", step.name, st.Active, st.Images[st.Active], st.Images[st.Idle()], h, step.idleNew, step.flip)
		}
	}
}
