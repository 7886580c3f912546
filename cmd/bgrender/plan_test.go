package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDryRunPrintsThePlan: every action's --dry-run prints its plan on
// standard error before the diff, and -o json carries the plan with each
// step's kind, status and diff, on a plain folder and a managed one; a
// stepped promotion lists every step of every commit.
func TestDryRunPrintsThePlan(t *testing.T) {
	type planned struct {
		Step        int     `json:"step"`
		Kind        string  `json:"kind"`
		Description string  `json:"description"`
		Status      string  `json:"status"`
		Diff        string  `json:"diff"`
		At          float64 `json:"at"`
	}
	for _, layout := range []string{"plain", "managed"} {
		t.Run(layout, func(t *testing.T) {
			r := newGitopsRepo(t, layout, 0)
			before := r.commits(t)
			text := r.mustRun(t, "promote", "--dry-run")
			if !strings.HasPrefix(text.stderr, "plan: promote in apps/my-application, 1 step\n  1. commit: flip the live Service to the idle color\n") {
				t.Errorf("the dry run's plan:\n%s", text.stderr)
			}
			out := r.mustRun(t, "promote", "--dry-run", "-o", "json").stdout
			var got struct {
				Action string    `json:"action"`
				Diff   string    `json:"diff"`
				Plan   []planned `json:"plan"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("-o json: %v\n%s", err, out)
			}
			if got.Action != "promote" || len(got.Plan) != 1 {
				t.Fatalf("-o json: %s", out)
			}
			p := got.Plan[0]
			if p.Step != 1 || p.Kind != "commit" || p.Status != "done" || p.Diff == "" || p.Diff != got.Diff || !strings.Contains(p.Diff, "green") {
				t.Errorf("the plan's step: %+v", p)
			}
			for _, args := range [][]string{
				{"deploy", "--image", "myapp:v2", "--dry-run", "-o", "json"},
				{"rollback", "--force", "--dry-run", "-o", "json"},
				{"scale-idle", "--replicas", "0", "--dry-run", "-o", "json"},
			} {
				res := r.run(t, args...)
				if res.code != 0 && res.code != 3 {
					t.Fatalf("%v: exit %d\n%s", args, res.code, res.stderr)
				}
				if res.code == 0 && !strings.Contains(res.stdout, `"kind": "commit"`) {
					t.Errorf("%v: no plan in\n%s", args, res.stdout)
				}
			}
			if r.commits(t) != before {
				t.Error("a dry run pushed")
			}
		})
	}
	t.Run("stepped", func(t *testing.T) {
		r := newTrafficRepo(t)
		out := r.mustRun(t, "promote", "--steps", "25,100", "--dry-run", "-o", "json").stdout
		var got struct {
			Plan []planned `json:"plan"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("-o json: %v\n%s", err, out)
		}
		var kinds []string
		for _, p := range got.Plan {
			kinds = append(kinds, p.Kind)
		}
		// Each step reads the cluster, so the capacity gate runs before it.
		if want := "gates commit wait-traffic gates commit wait-traffic wait-live"; strings.Join(kinds, " ") != want {
			t.Errorf("stepped plan %q, want %q", kinds, want)
		}
	})
}
