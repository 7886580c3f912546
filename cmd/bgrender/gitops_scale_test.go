package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
)

// outsideTree lists every file outside the app folder with its blob hash.
func (r *gitopsRepo) outsideTree(t *testing.T) (string, int) {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(r.git(t, "ls-tree", "-r", "main"), "\n") {
		if _, path, _ := strings.Cut(line, "\t"); !strings.HasPrefix(path, appPath+"/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n"), len(keep)
}

// TestGitopsLargeTree proves that on a repository of thousands of files,
// every action leaves every file outside the app folder byte-identical
// and the file count unchanged: a commit built from the app folder alone
// never deletes the rest of the tree.
func TestGitopsLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("writes repositories of thousands of files; skipped under -short")
	}
	for _, layout := range []string{"managed", "plain"} {
		t.Run(layout, func(t *testing.T) {
			r := newGitopsRepo(t, layout, 4000)
			before, n := r.outsideTree(t)
			if n < 4000 {
				t.Fatalf("only %d files outside the app", n)
			}
			steps := [][]string{
				{"deploy", "--image", "myapp:v2"},
				{"promote"},
				{"scale-idle", "--replicas", "2"},
				{"rollback"},
			}
			for _, step := range steps {
				r.mustRun(t, step...)
				after, m := r.outsideTree(t)
				if after != before || m != n {
					t.Fatalf("after %v: %d files outside the app (was %d), tree changed: %v", step, m, n, after != before)
				}
				for _, f := range r.changedFiles(t) {
					if !strings.HasPrefix(f, appPath+"/") {
						t.Fatalf("after %v: %s changed", step, f)
					}
				}
			}
			if c := r.commits(t); c != 1+len(steps) {
				t.Errorf("commits = %d, want %d", c, 1+len(steps))
			}
			if out := r.git(t, "fsck", "--strict", "--no-progress"); out != "" {
				t.Errorf("fsck: %s", out)
			}
		})
	}
}

// buildBinary builds bgrender once into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bgrender")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestGitopsConcurrentProcesses starts 20 bgrender processes at once on
// 20 different apps of one repository, plus 5 promoting the same app to
// the same color: all 20 changes land, the 5 give one commit and four
// no-ops, and no commit is lost.
func TestGitopsConcurrentProcesses(t *testing.T) {
	gittest.GitPath(t)
	if testing.Short() {
		t.Skip("builds and runs 25 processes; skipped under -short")
	}
	bin := buildBinary(t)
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	apps := make([]string, 20)
	for i := range apps {
		apps[i] = fmt.Sprintf("app-%02d", i)
		writeManaged(t, filepath.Join(seed, "apps", apps[i]), apps[i])
	}
	writeManaged(t, filepath.Join(seed, "apps", "shared"), "shared")
	writeOutside(t, seed, 200)
	url := srv.CreateRepo(t, "gitops", seed)

	type run struct {
		app    string
		code   int
		stdout string
		stderr string
	}
	var jobs []*run
	for _, app := range apps {
		jobs = append(jobs, &run{app: app})
	}
	for range 5 {
		jobs = append(jobs, &run{app: "shared"})
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 25 writers on one branch and 2 cores: each lost race costs a full
			// clone and push, so the test allows more attempts than the default
			// 10 (it logs the most one process needed).
			cmd := exec.Command(bin, "promote", "--repo", url, "--path", "apps/"+j.app, "--to", "green", "-o", "json", "--max-attempts", "30")
			cmd.Env = append(os.Environ(), "BGRENDER_GIT_TOKEN="+gitToken)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			<-start
			err := cmd.Run()
			j.code = cmd.ProcessState.ExitCode()
			if err != nil && j.code == 0 {
				j.code = -1
			}
			j.stdout, j.stderr = out.String(), errOut.String()
		}()
	}
	close(start)
	wg.Wait()
	t.Logf("25 processes finished in %s", time.Since(began).Round(time.Millisecond))

	commits, noops, attempts := 0, 0, 0
	for _, j := range jobs {
		if j.code != 0 {
			t.Errorf("%s: exit %d\n%s", j.app, j.code, j.stderr)
			continue
		}
		if strings.Contains(j.stdout+j.stderr, gitToken) {
			t.Errorf("%s printed the token", j.app)
		}
		var res promote.Result
		if err := json.Unmarshal([]byte(j.stdout), &res); err != nil {
			t.Errorf("%s: %v: %s", j.app, err, j.stdout)
			continue
		}
		attempts = max(attempts, res.Attempts)
		switch {
		case res.NoOp:
			noops++
			if j.app != "shared" {
				t.Errorf("%s: unexpected no-op", j.app)
			}
		default:
			commits++
		}
	}
	t.Logf("at most %d attempts by one process", attempts)
	if commits != 21 || noops != 4 {
		t.Errorf("commits reported = %d (want 21), no-ops = %d (want 4)", commits, noops)
	}
	bare := srv.RepoDir("gitops")
	if n := srv.CommitCount(t, "gitops", "main"); n != 22 {
		t.Errorf("commits on main = %d, want 22 (seed + 20 apps + 1 shared)", n)
	}
	landed := strings.Fields(gittest.Git(t, bare, "log", "--format=%(trailers:key=Bgrender-App,valueonly)", "main"))
	sort.Strings(landed)
	want := append(append([]string{}, apps...), "shared")
	sort.Strings(want)
	if strings.Join(landed, " ") != strings.Join(want, " ") {
		t.Errorf("apps with a commit: %v\nwant: %v", landed, want)
	}
	for _, app := range want {
		spec := gittest.Git(t, bare, "show", "main:apps/"+app+"/bgrender.yaml")
		if !strings.Contains(spec, "active: green") {
			t.Errorf("%s is not on green", app)
		}
	}
}
