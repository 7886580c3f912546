package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// seedTwo writes the apps web and api (both blue) and n files elsewhere.
func seedTwo(t *testing.T, n int) string {
	t.Helper()
	dir := seed(t, n)
	for name, text := range map[string]string{"apps/api/state.txt": "blue\n", "apps/api/old.txt": "old\n", "apps/db/state.txt": "blue\n"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func groupUpdate(t *testing.T, url string, web, api *setState) *Update {
	u := newUpdate(t, url, nil)
	u.Path, u.Folders = "", []Folder{{Path: "apps/web", Editor: web}, {Path: "apps/api", Editor: api}}
	return u
}

// TestUpdateSeveralFolders: two app folders change in one commit, which
// rewrites only their trees and names both apps; an app already in its
// state adds nothing, and the commit holds the other.
func TestUpdateSeveralFolders(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithToken(token))
	url := srv.CreateRepo(t, "r", seedTwo(t, 500))
	bare := srv.RepoDir("r")
	untouched := map[string]string{}
	for _, tree := range []string{"main:other", "main:apps/db"} {
		untouched[tree] = gittest.Git(t, bare, "rev-parse", tree)
	}

	web, api := &setState{want: "green"}, &setState{want: "green", app: "api"}
	res, err := groupUpdate(t, url, web, api).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit == "" || len(res.Changes) != 2 || res.Change.App != "web, api" || res.Change.To != "green" {
		t.Fatalf("result = %+v, change %+v", res, res.Change)
	}
	if n := srv.CommitCount(t, "r", "main"); n != 2 {
		t.Fatalf("commits = %d, want 2: one for both apps", n)
	}
	files := gittest.Git(t, bare, "diff", "--name-status", "main~1", "main")
	want := "D\tapps/api/old.txt\nA\tapps/api/new.txt\nM\tapps/api/state.txt\nA\tapps/web/new.txt\nD\tapps/web/old.txt\nM\tapps/web/state.txt"
	if got := strings.Split(files, "\n"); len(got) != 6 || !sameSet(got, strings.Split(want, "\n")) {
		t.Fatalf("changed files:\n%s", files)
	}
	for tree, h := range untouched {
		if gittest.Git(t, bare, "rev-parse", tree) != h {
			t.Errorf("%s changed", tree)
		}
	}
	tr := gittest.Trailers(t, bare, "main")
	if tr["Bgrender-App"] != "web, api" || tr["Bgrender-To"] != "green" || strings.Join(AppsOf(tr), "|") != "web|api" {
		t.Fatalf("trailers = %v", tr)
	}
	if subject := gittest.Git(t, bare, "log", "-1", "--format=%s", "main"); subject != "promote web, api: web: blue to green; api: blue to green" {
		t.Errorf("subject = %q", subject)
	}
	if body := gittest.Git(t, bare, "log", "-1", "--format=%b", "main"); !strings.Contains(body, "in apps/web, apps/api on main") {
		t.Errorf("body = %q", body)
	}

	// web back to blue, api already green: the commit holds web alone.
	res, err = groupUpdate(t, url, &setState{want: "blue"}, &setState{want: "green", app: "api"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changes[1].Done || res.Changes[0].Done || res.Change.App != "web" {
		t.Fatalf("changes %+v %+v, group %+v", res.Changes[0], res.Changes[1], res.Change)
	}
	if files := gittest.Git(t, bare, "diff", "--name-only", "main~1", "main"); files != "apps/web/state.txt" {
		t.Fatalf("changed files: %s", files)
	}
	// Both already there: no commit.
	res, err = groupUpdate(t, url, &setState{want: "blue"}, &setState{want: "green", app: "api"}).Run(context.Background())
	if err != nil || !res.Change.Done || res.Commit != "" || res.Change.Reason != "web is already blue; api is already green" {
		t.Fatalf("no-op: %+v, %v", res, err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// TestUpdateSeveralFoldersRetries: when the branch moves, every editor
// runs again on the new tip; a change of one app meanwhile is a conflict
// that names its folder, and nothing is pushed.
func TestUpdateSeveralFoldersRetries(t *testing.T) {
	srv := gittest.NewServer(t)
	src := seedTwo(t, 1)
	url := srv.CreateRepo(t, "r", src)
	web := &setState{want: "green", before: func(call int) {
		if call == 1 {
			os.WriteFile(filepath.Join(src, "other", "x"), []byte("x"), 0o644)
			gittest.Commit(t, srv.RepoDir("r"), src, "elsewhere")
		}
	}}
	api := &setState{want: "green", app: "api"}
	res, err := groupUpdate(t, url, web, api).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || web.calls != 2 || api.calls != 2 {
		t.Fatalf("attempts %d, calls %d and %d; want 2 each", res.Attempts, web.calls, api.calls)
	}
	gittest.Git(t, srv.RepoDir("r"), "cat-file", "-e", "main:other/x")

	// api changes by hand between two attempts: a conflict on apps/api.
	src = seedTwo(t, 1)
	url = srv.CreateRepo(t, "c", src)
	api = &setState{want: "green", app: "api", before: func(call int) {
		if call == 1 {
			os.WriteFile(filepath.Join(src, "apps", "api", "state.txt"), []byte("purple\n"), 0o644)
			gittest.Commit(t, srv.RepoDir("c"), src, "hand edit")
		}
	}}
	_, err = groupUpdate(t, url, &setState{want: "green"}, api).Run(context.Background())
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Path != "apps/api" || conflict.After != "purple" {
		t.Fatalf("err = %v", err)
	}
	if srv.CommitCount(t, "c", "main") != 2 || gittest.Git(t, srv.RepoDir("c"), "show", "main:apps/web/state.txt") != "blue" {
		t.Fatal("a conflicting group pushed")
	}
}

// failing is an editor that fails.
type failing struct{}

func (failing) Edit(dir string, _ []*object.Commit) (*Change, error) {
	return nil, exitcode.GateRefused(errors.New("api has 0 replicas on green in " + dir))
}

// TestUpdateSeveralFoldersRefusal: one editor's refusal commits nothing
// (its exit code and folder kept); folders inside one another are bad
// usage.
func TestUpdateSeveralFoldersRefusal(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "r", seedTwo(t, 1))
	u := newUpdate(t, url, nil)
	u.Path, u.Folders = "", []Folder{{Path: "apps/web", Editor: &setState{want: "green"}}, {Path: "apps/api", Editor: failing{}}}
	_, err := u.Run(context.Background())
	if exitcode.Of(err) != exitcode.Refused || !strings.Contains(err.Error(), "0 replicas on green in apps/api") {
		t.Fatalf("err = %v", err)
	}
	if srv.Pushes() != 0 {
		t.Fatal("a refused group pushed")
	}
	for _, paths := range [][2]string{{"apps", "apps/web"}, {"apps/web/", "apps/web"}, {".", "apps/api"}} {
		u.Folders = []Folder{{Path: paths[0], Editor: &setState{want: "green"}}, {Path: paths[1], Editor: &setState{want: "green"}}}
		if _, err := u.Run(context.Background()); exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("%v: err = %v", paths, err)
		}
	}
}
