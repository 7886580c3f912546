package main

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// TestGitopsPlainCanary shifts the article's hand-written layout: the
// Service, the preview Service and the article's Ingress plus its canary
// Ingress with the article's annotations. A shift changes the canary's
// canary-weight line and nothing else (golden diff, comment kept); the
// safety refusals of the managed layout hold; rollback and promote at
// weight 0 work as before, the canary following the preview Service.
func TestGitopsPlainCanary(t *testing.T) {
	r := newGitopsRepo(t, "plain-canary", 0)

	r.mustRun(t, "shift", "--weight", "10")
	golden(t, "gitops/plain-canary-shift.diff", []byte(r.lastDiff(t)))
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/ingress.yaml" {
		t.Errorf("shift changed %v", got)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-App": "application-service", "Bgrender-Action": "shift"})

	r.mustRun(t, "shift", "--weight", "25")
	wantLines(t, r.lastDiff(t),
		`-    nginx.ingress.kubernetes.io/canary-weight: "10" # the idle color's share, in percent`,
		`+    nginx.ingress.kubernetes.io/canary-weight: "25" # the idle color's share, in percent`)

	// The same weight again: nothing to do, no commit.
	before := r.commits(t)
	if res := r.mustRun(t, "shift", "--weight", "25"); !strings.Contains(res.stderr+res.stdout, "nothing to do") {
		t.Errorf("a repeated shift: %s%s", res.stdout, res.stderr)
	}
	if r.commits(t) != before {
		t.Error("a repeated shift committed")
	}

	// Under a share, the idle color gets no new image and is not scaled to
	// 0, and a flip is refused: the canary's weight and the Services are
	// separate objects (exit 3, nothing committed).
	for _, args := range [][]string{
		{"deploy", "--image", "myapp:v9"},
		{"scale-idle", "--replicas", "0"},
		{"promote"},
	} {
		if res := r.run(t, args...); res.code != exitcode.Refused {
			t.Errorf("%v under a 25%% share: exit %d, %s", args, res.code, res.stderr)
		}
	}
	if r.commits(t) != before {
		t.Fatal("a refused action committed")
	}

	// rollback returns the share to the live color: the weight line again.
	r.mustRun(t, "rollback")
	wantLines(t, r.lastDiff(t),
		`-    nginx.ingress.kubernetes.io/canary-weight: "25" # the idle color's share, in percent`,
		`+    nginx.ingress.kubernetes.io/canary-weight: "0" # the idle color's share, in percent`)

	// At weight 0 promote flips the Service and the preview Service; the
	// canary then sends to blue, the new idle color, through the preview
	// Service: a new shift is again only the weight line.
	r.mustRun(t, "promote")
	if got := r.changedFiles(t); strings.Join(got, " ") != appPath+"/service-preview.yaml "+appPath+"/service.yaml" {
		t.Errorf("promote changed %v", got)
	}
	r.mustRun(t, "shift", "--weight", "5")
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/ingress.yaml" {
		t.Errorf("shift after promote changed %v", got)
	}
}

// TestGitopsPlainShiftBadLayouts: a plain folder with no canary Ingress,
// only the article's Ingress (canary "false"), or a canary to the live
// Service cannot be shifted: exit 2, with what to change, nothing committed.
func TestGitopsPlainShiftBadLayouts(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"no canary", "ingress.yaml", `nginx.ingress.kubernetes.io/canary: "true"`, `nginx.ingress.kubernetes.io/canary: "false"`,
			`without canary: "true" ingress-nginx ignores it`},
		{"canary to the live Service", "ingress.yaml", "name: application-service-preview", "name: application-service",
			"the live color"},
		{"weight total", "ingress.yaml", "nginx.ingress.kubernetes.io/canary-by-header: x-color", "nginx.ingress.kubernetes.io/canary-weight-total: \"1000\"",
			"canary-weight-total"},
		{"weight not a number", "ingress.yaml", `canary-weight: "0" #`, `canary-weight: "ten" #`,
			`"ten", not a percentage`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newGitopsRepo(t, "plain-canary", 0)
			r.handCommit(t, c.file, c.old, c.new)
			before := r.commits(t)
			res := r.run(t, "shift", "--weight", "10")
			if res.code != exitcode.Invalid || !strings.Contains(res.stderr, c.want) || res.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %s; want exit 2 with %q", res.code, res.stdout, res.stderr, c.want)
			}
			if r.commits(t) != before {
				t.Error("committed")
			}
		})
	}
}
