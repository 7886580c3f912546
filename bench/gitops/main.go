// Command gitops times `bgrender promote` end to end against the git CLI
// doing the same steps by hand (git clone --depth 1 --single-branch, edit,
// commit, push), in the same run, on a GitOps repository of many files and
// commits served over HTTP by a real smart-HTTP Git server (git
// http-backend, as in internal/testbed/gittest). It prints the wall time of each
// round, the medians, and the peak memory (max RSS) of the bgrender process.
//
//	go run ./bench/gitops [-files 20000] [-commits 2000] [-n 3] [-bin PATH]
//
// The app folder is the article's plain layout (testdata/gitops/plain):
// each round flips the Service selector, bgrender to one color and then
// the git CLI back to the other, so both make a real one-line change. The
// git CLI runs twice per round: as the issue words it (a full checkout of
// the shallow clone) and with a sparse checkout of the app folder only.
// Targets (issue 4): bgrender no slower than the git CLI; at most 250 MB.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

const (
	token   = "bench-token"
	appPath = "apps/my-application"
)

func main() {
	files := flag.Int("files", 20000, "files in the repository")
	commits := flag.Int("commits", 2000, "commits in the history")
	n := flag.Int("n", 3, "rounds")
	bin := flag.String("bin", "", "bgrender binary (default: build ./cmd/bgrender)")
	flag.Parse()

	work, err := os.MkdirTemp("", "bgrender-bench-gitops")
	check(err)
	defer os.RemoveAll(work)
	if *bin == "" {
		*bin = filepath.Join(work, "bgrender")
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/bgrender")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		check(build.Run())
	}

	start := time.Now()
	root := filepath.Join(work, "srv")
	check(os.MkdirAll(root, 0o755))
	check(makeRepo(filepath.Join(root, "gitops"), *files, *commits))
	fmt.Printf("repository: %d files, %d commits, built in %s\n", *files+4, *commits, time.Since(start).Round(time.Millisecond))

	srv, err := gittest.Serve(root, gittest.WithToken(token))
	check(err)
	defer srv.Close()
	url := srv.URL + "/gitops"

	var tb, tg, ts []time.Duration
	var peak int64
	fmt.Printf("%-6s %12s %12s %18s %14s\n", "round", "bgrender", "git CLI", "git CLI (sparse)", "bgrender RSS")
	for i := range *n {
		// bgrender flips to green; the git CLI flips back to blue, then
		// (sparse) to green and back, so that every step changes a line.
		d, rss := timeBgrender(*bin, url, "green")
		g := timeGitCLI(work, url, "green", "blue", fmt.Sprintf("full-%d", i), false)
		timeBgrender(*bin, url, "green")
		sp := timeGitCLI(work, url, "green", "blue", fmt.Sprintf("sparse-%d", i), true)
		tb, tg, ts = append(tb, d), append(tg, g), append(ts, sp)
		peak = max(peak, rss)
		fmt.Printf("%-6d %12s %12s %18s %11.1f MB\n", i+1, d.Round(time.Millisecond), g.Round(time.Millisecond), sp.Round(time.Millisecond), float64(rss)/1024)
	}
	mb, mg, ms := median(tb), median(tg), median(ts)
	fmt.Printf("median: bgrender %s, git CLI %s (bgrender/git = %.2f), git CLI sparse %s (bgrender/sparse = %.2f); bgrender peak RSS %.1f MB\n",
		mb.Round(time.Millisecond), mg.Round(time.Millisecond), float64(mb)/float64(mg),
		ms.Round(time.Millisecond), float64(mb)/float64(ms), float64(peak)/1024)
	// A rollback reads up to 200 commits of history to check the image of
	// the color it returns to.
	timeBgrender(*bin, url, "green")
	d, rss := timeBgrenderArgs(*bin, "rollback", "--repo", url, "--path", appPath)
	fmt.Printf("bgrender rollback (reads history): %s, RSS %.1f MB\n", d.Round(time.Millisecond), float64(rss)/1024)
}

// timeBgrender runs bgrender promote --to color and returns its wall time
// and max RSS in KB.
func timeBgrender(bin, url, color string) (time.Duration, int64) {
	return timeBgrenderArgs(bin, "promote", "--repo", url, "--path", appPath, "--to", color)
}

// timeBgrenderArgs runs bgrender with args, which must commit.
func timeBgrenderArgs(bin string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "BGRENDER_GIT_TOKEN="+token)
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	out, err := cmd.Output()
	d := time.Since(t0)
	if err != nil || !strings.Contains(string(out), "committed") {
		fail(fmt.Errorf("bgrender %s: %v: %s", args[0], err, out))
	}
	return d, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// timeGitCLI does by hand what promote does: a shallow single-branch clone,
// the selector edit (from → to), a commit and a push. With sparse, the
// clone checks out only the app folder (sparse-checkout in cone mode), as
// an expert would script it.
func timeGitCLI(work, url, from, to, name string, sparse bool) time.Duration {
	dir := filepath.Join(work, "clone-"+name)
	authURL := strings.Replace(url, "http://", "http://x-access-token:"+token+"@", 1)
	t0 := time.Now()
	if sparse {
		git("", "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", "main", "--no-checkout", authURL, dir)
		git(dir, "sparse-checkout", "set", "--cone", appPath)
		git(dir, "checkout", "--quiet", "main")
	} else {
		git("", "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", "main", authURL, dir)
	}
	svc := filepath.Join(dir, appPath, "service.yaml")
	data, err := os.ReadFile(svc)
	check(err)
	edited := strings.Replace(string(data), "version: "+from, "version: "+to, 1)
	edited = strings.Replace(edited, "bgrender.io/active-color: "+from, "bgrender.io/active-color: "+to, 1)
	edited = strings.Replace(edited, "bgrender.io/previous-color: "+to, "bgrender.io/previous-color: "+from, 1)
	check(os.WriteFile(svc, []byte(edited), 0o644))
	git(dir, "commit", "--quiet", "-am", "promote my-application: "+from+" to "+to)
	git(dir, "push", "--quiet", "origin", "main")
	d := time.Since(t0)
	os.RemoveAll(dir)
	return d
}

func git(dir string, args ...string) {
	if os.Getenv("BENCH_VERBOSE") != "" {
		t0 := time.Now()
		defer func() { fmt.Fprintf(os.Stderr, "  git %s: %s\n", args[0], time.Since(t0).Round(time.Millisecond)) }()
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Errorf("git %s: %v: %s", args[0], err, strings.ReplaceAll(string(out), token, "***")))
	}
}

// makeRepo writes a bare repository with git fast-import: the first commit
// holds the app folder and files spread over folders, and each later
// commit changes one of those files.
func makeRepo(bare string, files, commits int) error {
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", bare).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	if out, err := exec.Command("git", "-C", bare, "config", "http.receivepack", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("git config: %v: %s", err, out)
	}
	cmd := exec.Command("git", "-C", bare, "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	file := func(path, content string) {
		fmt.Fprintf(w, "M 100644 inline %s\n", path)
		data(content)
	}
	when := int64(1700000000)
	for c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter bench <bench@example.com> %d +0000\n", when+int64(c))
		data(fmt.Sprintf("commit %d", c))
		if c == 0 {
			entries, err := os.ReadDir("testdata/gitops/plain")
			if err != nil {
				return fmt.Errorf("run from the repository root: %w", err)
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join("testdata/gitops/plain", e.Name()))
				if err != nil {
					return err
				}
				file(appPath+"/"+e.Name(), string(b))
			}
			for i := range files {
				file(pathOf(i), configMap(i, 0))
			}
			continue
		}
		i := (c * 7919) % files
		file(pathOf(i), configMap(i, c))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	stdin.Close()
	return cmd.Wait()
}

func pathOf(i int) string {
	return fmt.Sprintf("clusters/c%02d/ns%03d/configmap-%05d.yaml", i%10, (i/10)%200, i)
}

func configMap(i, rev int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-%d\ndata:\n  revision: \"%d\"\n  payload: %s\n", i, rev, strings.Repeat("x", 200))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/gitops:", err)
	os.Exit(1)
}
