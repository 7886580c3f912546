package gitops

import (
	"context"
	"errors"
	"fmt"
	"github.com/bgrender/bgrender/internal/exitcode"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

const token = "tok-Secret-4242"

// seed writes an app folder and n files outside it.
func seed(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apps/web/state.txt", "blue\n")
	write("apps/web/keep.txt", "keep\n")
	write("apps/web/old.txt", "old\n")
	for i := range n {
		write(fmt.Sprintf("other/d%02d/f%04d.yaml", i%50, i), fmt.Sprintf("n: %d\n", i))
	}
	return dir
}

// setState is an editor that writes want into state.txt, adds new.txt and
// removes old.txt.
type setState struct {
	want  string
	app   string // default web
	calls int
	// before runs at the start of each call (to move the branch).
	before func(call int)
}

func (e *setState) Edit(dir string, _ []*object.Commit) (*Change, error) {
	e.calls++
	if e.before != nil {
		e.before(e.calls)
	}
	cur, err := os.ReadFile(filepath.Join(dir, "state.txt"))
	if err != nil {
		return nil, err
	}
	state := strings.TrimSpace(string(cur))
	app := e.app
	if app == "" {
		app = "web"
	}
	c := &Change{Action: "promote", App: app, From: state, To: e.want, Summary: state + " to " + e.want, State: state}
	if state == e.want {
		c.Done, c.Reason = true, app+" is already "+e.want
		return c, nil
	}
	os.Remove(filepath.Join(dir, "old.txt"))
	if err := os.WriteFile(filepath.Join(dir, "new.txt"), []byte("new\n"), 0o644); err != nil {
		return nil, err
	}
	return c, os.WriteFile(filepath.Join(dir, "state.txt"), []byte(e.want+"\n"), 0o644)
}

func newUpdate(t *testing.T, url string, e Editor) *Update {
	t.Helper()
	repo, err := OpenRepo(url, RepoOptions{Getenv: func(k string) string {
		if k == "BGRENDER_GIT_TOKEN" {
			return token
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &Update{Repo: repo, Path: "apps/web", Editor: e, AuthorName: "CI", AuthorEmail: "ci@example.com",
		Sleep: func(context.Context, time.Duration) error { return nil }}
}

// TestUpdateTouchesOnlyTheAppFolder proves the commit changes exactly the
// edited files, keeps every file outside the folder byte-identical (same
// tree hash) and carries the trailers.
func TestUpdateTouchesOnlyTheAppFolder(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithToken(token))
	url := srv.CreateRepo(t, "r", seed(t, 3000))
	bare := srv.RepoDir("r")
	otherBefore := gittest.Git(t, bare, "rev-parse", "main:other")

	res, err := newUpdate(t, url, &setState{want: "green"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Branch != "main" || res.Commit == "" || res.Attempts != 1 {
		t.Fatalf("result = %+v", res)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != res.Commit {
		t.Fatalf("remote main = %s, want %s", got, res.Commit)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main:other"); got != otherBefore {
		t.Fatal("the tree outside the app folder changed")
	}
	files := gittest.Git(t, bare, "diff", "--name-status", "main~1", "main")
	want := "A\tapps/web/new.txt\nD\tapps/web/old.txt\nM\tapps/web/state.txt"
	if files != want {
		t.Fatalf("changed files:\n%s\nwant:\n%s", files, want)
	}
	if n := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main"); strings.Count(n, "\n")+1 != 3003 {
		t.Fatalf("file count = %d", strings.Count(n, "\n")+1)
	}
	tr := gittest.Trailers(t, bare, "main")
	if tr["Bgrender-App"] != "web" || tr["Bgrender-Action"] != "promote" || tr["Bgrender-From"] != "blue" || tr["Bgrender-To"] != "green" {
		t.Fatalf("trailers = %v", tr)
	}
	if author := gittest.Git(t, bare, "log", "-1", "--format=%an <%ae>", "main"); author != "CI <ci@example.com>" {
		t.Fatalf("author = %s", author)
	}
	if gittest.Git(t, bare, "fsck", "--strict") != "" {
		t.Fatal("fsck reported problems")
	}

	// Again: already green, nothing to do.
	res, err = newUpdate(t, url, &setState{want: "green"}).Run(context.Background())
	if err != nil || res.Commit != "" || !res.Change.Done {
		t.Fatalf("second run = %+v, %v", res, err)
	}
	if n := srv.CommitCount(t, "r", "main"); n != 2 {
		t.Fatalf("commits = %d, want 2", n)
	}
}

// TestUpdateRetriesWhenTheBranchMoves proves a push rejected because
// another commit landed is retried on the new tip, and that commit is kept.
func TestUpdateRetriesWhenTheBranchMoves(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithToken(token))
	src := seed(t, 10)
	url := srv.CreateRepo(t, "r", src)
	e := &setState{want: "green", before: func(call int) {
		if call <= 2 { // someone else commits elsewhere, twice
			os.WriteFile(filepath.Join(src, "other", fmt.Sprintf("x%d", call)), []byte("x"), 0o644)
			gittest.Commit(t, srv.RepoDir("r"), src, fmt.Sprintf("other %d", call))
		}
	}}
	res, err := newUpdate(t, url, e).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 || e.calls != 3 {
		t.Fatalf("attempts = %d, calls = %d, want 3", res.Attempts, e.calls)
	}
	bare := srv.RepoDir("r")
	if n := srv.CommitCount(t, "r", "main"); n != 4 {
		t.Fatalf("commits = %d, want 4", n)
	}
	for _, f := range []string{"other/x1", "other/x2", "apps/web/new.txt"} {
		gittest.Git(t, bare, "cat-file", "-e", "main:"+f)
	}
}

// TestUpdateGivesUpAfterMaxAttempts proves the retry is bounded.
func TestUpdateGivesUpAfterMaxAttempts(t *testing.T) {
	srv := gittest.NewServer(t)
	src := seed(t, 1)
	url := srv.CreateRepo(t, "r", src)
	e := &setState{want: "green", before: func(call int) {
		os.WriteFile(filepath.Join(src, "other", "x"), []byte(fmt.Sprint(call)), 0o644)
		gittest.Commit(t, srv.RepoDir("r"), src, "other")
	}}
	u := newUpdate(t, url, e)
	u.MaxAttempts = 3
	_, err := u.Run(context.Background())
	if !errors.Is(err, ErrTooManyAttempts) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v", err)
	}
}

// TestUpdateStopsOnConflict proves a change of the app itself between two
// attempts stops the update instead of overwriting it.
func TestUpdateStopsOnConflict(t *testing.T) {
	srv := gittest.NewServer(t)
	src := seed(t, 1)
	url := srv.CreateRepo(t, "r", src)
	e := &setState{want: "green", before: func(call int) {
		if call == 1 {
			os.WriteFile(filepath.Join(src, "apps", "web", "state.txt"), []byte("purple\n"), 0o644)
			gittest.Commit(t, srv.RepoDir("r"), src, "hand edit")
		}
	}}
	_, err := newUpdate(t, url, e).Run(context.Background())
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Before != "blue" || conflict.After != "purple" {
		t.Fatalf("err = %v", err)
	}
	if gittest.Git(t, srv.RepoDir("r"), "show", "main:apps/web/state.txt") != "purple" {
		t.Fatal("the hand edit was overwritten")
	}
}

// TestUpdateFaults proves a failing server gives a clear error without the
// token and leaves the remote unchanged.
func TestUpdateFaults(t *testing.T) {
	for name, fault := range map[string]gittest.Fault{"500": gittest.ReceivePack500, "cut": gittest.CutPush, "auth": gittest.RejectAuth} {
		t.Run(name, func(t *testing.T) {
			srv := gittest.NewServer(t, gittest.WithToken(token))
			url := srv.CreateRepo(t, "r", seed(t, 1))
			before := srv.Head(t, "r", "main")
			srv.SetFault(fault)
			_, err := newUpdate(t, url, &setState{want: "green"}).Run(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error shows the token: %v", err)
			}
			t.Logf("error: %v", err)
			if after := srv.Head(t, "r", "main"); after != before {
				t.Fatal("remote changed")
			}
		})
	}
}

func TestDryRunPushesNothing(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "r", seed(t, 1))
	u := newUpdate(t, url, &setState{want: "green"})
	u.DryRun = true
	res, err := u.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Diff, "-blue\n+green\n") || !strings.Contains(res.Diff, "diff --git a/apps/web/state.txt b/apps/web/state.txt") {
		t.Fatalf("diff:\n%s", res.Diff)
	}
	if srv.Pushes() != 0 || srv.CommitCount(t, "r", "main") != 1 {
		t.Fatal("dry run pushed")
	}
}

func TestRedactText(t *testing.T) {
	got := redactText(`Get "https://user:hunter22@git.example/x": 401 (token hunter22)`, []string{"hunter22"})
	if strings.Contains(got, "hunter22") {
		t.Fatal(got)
	}
	if got := redactText("https://u:p@h/x and ssh://git@h/y", nil); got != "https://u:***@h/x and ssh://git@h/y" {
		t.Fatal(got)
	}
}

// TestNoDefaultBranch: a remote whose HEAD names a missing branch, or is
// detached, has no default branch: exit 2, asking for --branch.
func TestNoDefaultBranch(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "r", seed(t, 1))
	dir := srv.RepoDir("r")
	for name, args := range map[string][]string{
		"dangling": {"symbolic-ref", "HEAD", "refs/heads/nope"},
		// detached at a commit that no branch points to
		"detached": {"update-ref", "--no-deref", "HEAD", gittest.Git(t, dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit-tree", "main^{tree}", "-m", "loose")},
	} {
		gittest.Git(t, dir, args...)
		_, err := newUpdate(t, url, &setState{want: "green"}).Run(context.Background())
		if exitcode.Of(err) != exitcode.Invalid || err == nil || !strings.Contains(err.Error(), "has no default branch") {
			t.Errorf("%s HEAD: %v (exit %d)", name, err, exitcode.Of(err))
		}
	}
}

// TestPushShowsTheServersMessage: when a hook declines the push, its
// message ("main is protected") is part of the error.
func TestPushShowsTheServersMessage(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "r", seed(t, 1))
	hook := filepath.Join(srv.RepoDir("r"), "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := newUpdate(t, url, &setState{want: "green"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "main is protected: open a pull request") {
		t.Fatalf("err = %v", err)
	}
	if srv.CommitCount(t, "r", "main") != 1 {
		t.Fatal("the declined push landed")
	}
}
