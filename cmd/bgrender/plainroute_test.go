package main

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// TestGitopsPlainRoute shifts a plain folder that routes through the
// Gateway API: an HTTPRoute whose rule sends to a Service of each color.
// A shift changes the rule's two weight lines and nothing else (golden
// diff, comments kept); a promote during a shift flips the live Service and
// gives the new live color's backend 100 in the same commit; rollback and
// the refusals work as in the managed Gateway mode.
func TestGitopsPlainRoute(t *testing.T) {
	r := newGitopsRepo(t, "plain-route", 0)
	r.mustRun(t, "shift", "--weight", "10")
	golden(t, "gitops/plain-route-shift.diff", []byte(r.lastDiff(t)))
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/httproute.yaml" {
		t.Errorf("shift changed %v", got)
	}
	r.mustRun(t, "shift", "--weight", "40")
	wantLines(t, r.lastDiff(t),
		"-          weight: 90 # the live color", "+          weight: 60 # the live color",
		"-          weight: 10 # the idle color's share", "+          weight: 40 # the idle color's share")
	if res := r.run(t, "deploy", "--image", "myapp:v9"); res.code != exitcode.Refused {
		t.Errorf("deploy under a share: exit %d %s", res.code, res.stderr)
	}

	r.mustRun(t, "promote")
	if got := r.changedFiles(t); strings.Join(got, " ") != appPath+"/httproute.yaml "+appPath+"/service.yaml" {
		t.Errorf("promote changed %v", got)
	}
	route := r.file(t, "httproute.yaml")
	if !strings.Contains(route, "weight: 0 # the live color") || !strings.Contains(route, "weight: 100 # the idle color's share") {
		t.Errorf("after the promote the route does not send everything to green:\n%s", route)
	}
	if !strings.Contains(r.file(t, "service.yaml"), "version: green") {
		t.Error("the promote did not flip the Service")
	}

	// A share to blue, now idle, then rollback: the share comes back.
	r.mustRun(t, "shift", "--weight", "20")
	r.mustRun(t, "rollback")
	route = r.file(t, "httproute.yaml")
	if !strings.Contains(route, "weight: 0 # the live color") || !strings.Contains(route, "weight: 100 # the idle color's share") {
		t.Errorf("rollback during the shift:\n%s", route)
	}

	// The stepped promotion, as a dry run: one commit per step, the last
	// the flip with the route on blue alone.
	res := r.mustRun(t, "promote", "--steps", "50,100", "--dry-run")
	if n := strings.Count(res.stderr, "(dry run: nothing pushed)"); n != 2 {
		t.Errorf("%d commits, want 2:\n%s", n, res.stderr)
	}
}

// TestGitopsPlainRouteBadWeights: weights that are not percentages, and
// rules that disagree, are exit 2 for shift, nothing committed; the other
// actions still work.
func TestGitopsPlainRouteBadWeights(t *testing.T) {
	r := newGitopsRepo(t, "plain-route", 0)
	r.handCommit(t, "httproute.yaml", "weight: 100 # the live color", "weight: 3 # the live color")
	before := r.commits(t)
	if res := r.run(t, "shift", "--weight", "10"); res.code != exitcode.Invalid || !strings.Contains(res.stderr, "add up to 3, not 100") || r.commits(t) != before {
		t.Errorf("weights of 3 and 0: exit %d\n%s", res.code, res.stderr)
	}
	r.mustRun(t, "scale-idle", "--replicas", "1")
}

// TestGitopsPlainRouteFlips: every flip puts the route on the new live
// color alone, shifted or not: a promote from weight 0 changes the Service
// and the route in one commit, and a rollback brings both back. A rule that
// pairs the live Service (whose selector flips) with a per-color one is no
// split of bgrender's, and a pair of Services in another namespace neither.
func TestGitopsPlainRouteFlips(t *testing.T) {
	r := newGitopsRepo(t, "plain-route", 0)
	r.mustRun(t, "promote")
	if got := r.changedFiles(t); strings.Join(got, " ") != appPath+"/httproute.yaml "+appPath+"/service.yaml" {
		t.Errorf("promote changed %v", got)
	}
	wantLines(t, r.lastDiff(t),
		"-          weight: 100 # the live color", "+          weight: 0 # the live color",
		"-          weight: 0 # the idle color's share", "+          weight: 100 # the idle color's share",
		"+  annotations:", "+    bgrender.io/active-color: green", "+    bgrender.io/previous-color: blue",
		"-    version: blue # Switch to 'green' for deployment", "+    version: green # Switch to 'green' for deployment")
	r.mustRun(t, "rollback")
	route := r.file(t, "httproute.yaml")
	if !strings.Contains(route, "weight: 100 # the live color") || !strings.Contains(route, "weight: 0 # the idle color's share") ||
		!strings.Contains(r.file(t, "service.yaml"), "version: blue") {
		t.Errorf("rollback did not bring the route and the Service back to blue:\n%s", route)
	}

	other := newGitopsRepo(t, "plain-route", 0)
	other.handCommit(t, "httproute.yaml", "        - name: application-blue\n          port: 80\n", "        - name: application-blue\n          namespace: staging\n          port: 80\n")
	if res := other.run(t, "shift", "--weight", "10"); res.code != exitcode.Invalid || !strings.Contains(res.stderr, "no canary Ingress or weighted HTTPRoute") {
		t.Errorf("a backend in another namespace: exit %d\n%s", res.code, res.stderr)
	}
}
