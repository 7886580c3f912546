package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSteppedDryRun: promote --steps --dry-run prints every step's diff,
// each on top of the one before (the weight line from the last step's
// value, the flip at 100), runs no gate, needs no cluster and pushes
// nothing; -o json lists the steps with their diffs. In the NGINX mode the
// last step shows the hand-over's three commits.
func TestSteppedDryRun(t *testing.T) {
	r := newTrafficRepo(t)
	before := r.commits(t)
	res := r.mustRun(t, "promote", "--steps", "10,50,100", "--dry-run", "--require-rollout", "--kubeconfig", "/nonexistent/kubeconfig")
	for _, want := range []string{"+    weight: 10", "-    weight: 10", "+    weight: 50", "-    weight: 50", "+  active: green"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the dry run lacks %q:\n%s", want, res.stdout)
		}
	}
	if n := strings.Count(res.stderr, "(dry run: nothing pushed)"); n != 3 {
		t.Errorf("%d dry-run messages, want 3:\n%s", n, res.stderr)
	}
	if n := strings.Count(res.stderr, "would first run rollout, capacity on green"); n != 3 {
		t.Errorf("%d notes of the gates that would run, want 3:\n%s", n, res.stderr)
	}
	if r.commits(t) != before || r.srv.Pushes() != 0 {
		t.Fatal("a dry run pushed")
	}

	out := r.mustRun(t, "promote", "--steps", "10,50,100", "--dry-run", "-o", "json").stdout
	var got struct {
		Steps []struct {
			Weight int `json:"weight"`
			Result struct {
				DryRun bool   `json:"dryRun"`
				Diff   string `json:"diff"`
				Commit string `json:"commit"`
			} `json:"result"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Steps) != 3 {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	for i, w := range []int{10, 50, 100} {
		st := got.Steps[i]
		if st.Weight != w || !st.Result.DryRun || st.Result.Diff == "" || st.Result.Commit != "" {
			t.Errorf("step %d: %+v", i, st)
		}
	}
	if !strings.Contains(got.Steps[1].Result.Diff, "-    weight: 10") {
		t.Errorf("the second step's diff is not on top of the first:\n%s", got.Steps[1].Result.Diff)
	}

	n := newTrafficRepoWith(t, "  traffic:\n    weight: 0\n    nginx: {}\n")
	res = n.mustRun(t, "promote", "--steps", "10,100", "--dry-run")
	for _, want := range []string{
		"+    weight: 10", "+    weight: 100", "+    canaryColor: green", "+  active: green", "-    canaryColor: green",
		`+    nginx.ingress.kubernetes.io/canary-weight: "100"`, "+            name: my-application-blue",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the NGINX dry run lacks %q:\n%s", want, res.stdout)
		}
	}
	if c := strings.Count(res.stderr, "(dry run: nothing pushed)"); c != 4 {
		t.Errorf("%d dry-run commits in the NGINX mode, want 4 (10%%, and the hand-over's three):\n%s", c, res.stderr)
	}
	if n.srv.Pushes() != 0 {
		t.Fatal("a dry run pushed")
	}
}

// TestSteppedDryRunPlain: on the article's plain manifests with a canary
// Ingress to the preview Service, the last step hands over in four commits:
// the canary to 100%, the live Service alone flipped (the preview Service,
// which the canary sends to, kept on green), the canary back to 0%, the
// preview Service on to blue — each changing one object.
func TestSteppedDryRunPlain(t *testing.T) {
	r := newGitopsRepo(t, "plain-canary", 0)
	res := r.mustRun(t, "promote", "--steps", "25,100", "--dry-run", "-o", "json")
	var got struct {
		Steps []struct {
			Weight int    `json:"weight"`
			Phase  string `json:"phase"`
			Result struct {
				Message string `json:"message"`
				Diff    string `json:"diff"`
			} `json:"result"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	want := []struct {
		phase, file string
		lines       []string
	}{
		{"", "ingress.yaml", []string{`-    nginx.ingress.kubernetes.io/canary-weight: "0" # the idle color's share, in percent`, `+    nginx.ingress.kubernetes.io/canary-weight: "25" # the idle color's share, in percent`}},
		{"canary", "ingress.yaml", []string{`-    nginx.ingress.kubernetes.io/canary-weight: "25" # the idle color's share, in percent`, `+    nginx.ingress.kubernetes.io/canary-weight: "100" # the idle color's share, in percent`}},
		{"flip", "service.yaml", nil},
		{"end", "ingress.yaml", []string{`-    nginx.ingress.kubernetes.io/canary-weight: "100" # the idle color's share, in percent`, `+    nginx.ingress.kubernetes.io/canary-weight: "0" # the idle color's share, in percent`}},
		{"preview", "service-preview.yaml", []string{"-    version: green", "+    version: blue"}},
	}
	if len(got.Steps) != len(want) {
		t.Fatalf("%d commits, want %d:\n%s", len(got.Steps), len(want), res.stdout)
	}
	for i, w := range want {
		st := got.Steps[i]
		if st.Phase != w.phase || strings.Count(st.Result.Diff, "diff --git") != 1 || !strings.Contains(st.Result.Diff, "/"+w.file) {
			t.Errorf("commit %d: phase %q, diff:\n%s\nwant phase %q, one file %s", i+1, st.Phase, st.Result.Diff, w.phase, w.file)
		}
		if w.lines != nil {
			wantLines(t, st.Result.Diff, w.lines...)
		}
	}
	if r.srv.Pushes() != 0 {
		t.Fatal("a dry run pushed")
	}
}
