package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitCLI runs the git CLI and returns its combined output and error.
func gitCLI(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func seedDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "a", "x.yaml"), []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func withAuth(url, user, pass string) string {
	return strings.Replace(url, "http://", "http://"+user+":"+pass+"@", 1)
}

// TestCloneAndPushOverHTTP proves the server is a real smart-HTTP server:
// the git CLI clones and pushes through it with a token.
func TestCloneAndPushOverHTTP(t *testing.T) {
	srv := NewServer(t, WithToken("tok-123"))
	url := srv.CreateRepo(t, "r", seedDir(t))
	if n := srv.CommitCount(t, "r", "main"); n != 1 {
		t.Fatalf("seeded commits = %d, want 1", n)
	}

	work := filepath.Join(t.TempDir(), "w")
	if out, err := gitCLI("", "clone", withAuth(url, "bad", "wrong"), work); err == nil {
		t.Fatalf("clone with a bad token succeeded: %s", out)
	}
	if out, err := gitCLI("", "clone", withAuth(url, "x-access-token", "tok-123"), work); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(work, "apps", "a", "y.yaml"), []byte("y: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "."}, {"commit", "-m", "add y"}, {"push", "origin", "main"}} {
		if out, err := gitCLI(work, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if n := srv.CommitCount(t, "r", "main"); n != 2 {
		t.Fatalf("commits after push = %d, want 2", n)
	}
	if srv.Pushes() != 1 {
		t.Fatalf("pushes = %d, want 1", srv.Pushes())
	}
	clone := srv.Clone(t, "r")
	if data, err := os.ReadFile(filepath.Join(clone, "apps", "a", "y.yaml")); err != nil || string(data) != "y: 2\n" {
		t.Fatalf("read back y.yaml = %q, %v", data, err)
	}
}

// TestFaults proves each injected fault makes a git CLI push fail and
// leaves the remote unchanged.
func TestFaults(t *testing.T) {
	for name, fault := range map[string]Fault{"500": ReceivePack500, "cut": CutPush, "auth": RejectAuth} {
		t.Run(name, func(t *testing.T) {
			srv := NewServer(t, WithToken("tok"))
			url := withAuth(srv.CreateRepo(t, "r", seedDir(t)), "u", "tok")
			before := srv.Head(t, "r", "main")
			work := filepath.Join(t.TempDir(), "w")
			if out, err := gitCLI("", "clone", url, work); err != nil {
				t.Fatalf("clone: %v\n%s", err, out)
			}
			if out, err := gitCLI(work, "commit", "--allow-empty", "-m", "x"); err != nil {
				t.Fatalf("commit: %v\n%s", err, out)
			}
			srv.SetFault(fault)
			if out, err := gitCLI(work, "push", "origin", "main"); err == nil {
				t.Fatalf("push succeeded despite fault %s: %s", name, out)
			}
			if after := srv.Head(t, "r", "main"); after != before {
				t.Fatalf("remote moved from %s to %s", before, after)
			}
			srv.SetFault(NoFault)
			if out, err := gitCLI(work, "push", "origin", "main"); err != nil {
				t.Fatalf("push after the fault: %v\n%s", err, out)
			}
		})
	}
}

func TestCommitReplacesTree(t *testing.T) {
	srv := NewServer(t)
	srv.CreateRepo(t, "r", seedDir(t))
	next := t.TempDir()
	if err := os.WriteFile(filepath.Join(next, "only.txt"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	Commit(t, srv.RepoDir("r"), next, "second\n\nBgrender-App: a\nBgrender-Action: promote")
	if got := Git(t, srv.RepoDir("r"), "ls-tree", "-r", "--name-only", "main"); got != "only.txt" {
		t.Fatalf("tree = %q", got)
	}
	tr := Trailers(t, srv.RepoDir("r"), "main")
	if tr["Bgrender-App"] != "a" || tr["Bgrender-Action"] != "promote" {
		t.Fatalf("trailers = %v", tr)
	}
}
