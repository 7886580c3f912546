package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// TestSessionClonesOnce: two Updates in a Session clone the repository
// once; a branch that moved in between makes the second clone again (its
// first push is rejected), and an app that changed in between is a
// conflict, as for any Update.
func TestSessionClonesOnce(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithToken(token))
	src := seed(t, 10)
	url := srv.CreateRepo(t, "r", src)
	run := func(s *Session, want string) (*Result, int64, error) {
		t.Helper()
		before := srv.Requests()
		u := newUpdate(t, url, &setState{want: want})
		u.Session = s
		res, err := u.Run(context.Background())
		return res, srv.Requests() - before, err
	}
	s := &Session{}
	_, first, err := run(s, "green")
	if err != nil {
		t.Fatal(err)
	}
	res, second, err := run(s, "yellow")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("requests to the Git server: first Update %d, second %d", first, second)
	if second >= first || res.Attempts != 1 {
		t.Errorf("the second Update of the session sent %d requests (the first %d) in %d attempts: it cloned again", second, first, res.Attempts)
	}
	if got := gittest.Git(t, srv.RepoDir("r"), "show", "main:apps/web/state.txt"); got != "yellow" {
		t.Errorf("state %q after two Updates", got)
	}

	// Someone commits elsewhere: the reused clone is stale, the push is
	// rejected, and the next attempt clones the new tip.
	elsewhere := srv.Clone(t, "r")
	os.WriteFile(filepath.Join(elsewhere, "other", "x"), []byte("x"), 0o644)
	gittest.Commit(t, srv.RepoDir("r"), elsewhere, "other")
	res, _, err = run(s, "green")
	if err != nil {
		t.Fatalf("after the branch moved: %v", err)
	}
	if res.Attempts != 2 {
		t.Errorf("after the branch moved: %d attempts, want 2 (the stale clone's push rejected)", res.Attempts)
	}
	gittest.Git(t, srv.RepoDir("r"), "cat-file", "-e", "main:other/x")

	// Someone changes the app itself: a conflict, not an overwrite.
	clone := srv.Clone(t, "r")
	os.WriteFile(filepath.Join(clone, "apps", "web", "state.txt"), []byte("red\n"), 0o644)
	gittest.Commit(t, srv.RepoDir("r"), clone, "by hand")
	_, _, err = run(s, "blue")
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Errorf("the app changed since the session's clone: %v, want a conflict", err)
	}
}

// TestSessionHistoryDepth: a session's clone serves an Update that needs
// no more history than it was cloned with: two Updates that read 5
// commits clone once; one that reads 5 after one that read a single
// commit clones again, and reads the history there is.
func TestSessionHistoryDepth(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithToken(token))
	url := srv.CreateRepo(t, "r", seed(t, 10))
	run := func(s *Session, want string, depth int) (int64, int) {
		t.Helper()
		before := srv.Requests()
		var seen int
		u := newUpdate(t, url, EditorFunc(func(dir string, history []*object.Commit) (*Change, error) {
			seen = len(history)
			return (&setState{want: want}).Edit(dir, history)
		}))
		u.Session, u.HistoryDepth = s, depth
		if _, err := u.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return srv.Requests() - before, seen
	}
	s := &Session{}
	first, _ := run(s, "green", 5)
	second, _ := run(s, "yellow", 5)
	if second >= first {
		t.Errorf("the second Update that reads 5 commits sent %d requests (the first %d): it cloned again", second, first)
	}
	s = &Session{}
	run(s, "green", 1)
	deeper, seen := run(s, "yellow", 5)
	if deeper < first || seen < 2 { // the seed and the first Update's commit
		t.Errorf("an Update that reads 5 commits after one that read 1 sent %d requests (a clone: %d) and read %d commits", deeper, first, seen)
	}
}
