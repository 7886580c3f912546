package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
