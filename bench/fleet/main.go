// Command fleet times what bgrender itself spends on a fleet release,
// apart from the holds and the clusters' own work: on a fleet of -targets
// app folders (the article's plain layout) in one repository served over
// HTTP by a real smart-HTTP Git server (internal/testbed/gittest), in
// waves of -wave targets, it times
//
//   - the plan: every folder read from Git (one clone of the repository)
//     and every wave planned, as release --fleet does before its first
//     commit;
//   - per wave, the commits that release --fleet makes: the deploy of
//     every target in one commit, then the flip of every target in one
//     commit, each pushed.
//
// The steps that read a cluster (the rollout, the gates, the waits, the
// hold) are left out: they wait for the clusters, whose time is not
// bgrender's. It prints each time, the commits per wave (from the
// repository) and the peak memory (max RSS) of the process.
//
//	go run ./bench/fleet [-targets 50] [-wave 25]
//
// Target (issue 23): under 2 s per wave of 25 targets, one commit per step
// of a wave.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

const token = "bench-token"

func main() {
	targets := flag.Int("targets", 50, "targets in the fleet, one app folder each")
	wave := flag.Int("wave", 25, "targets per wave")
	flag.Parse()

	work, err := os.MkdirTemp("", "bgrender-bench-fleet")
	check(err)
	defer os.RemoveAll(work)
	root := filepath.Join(work, "srv")
	check(os.MkdirAll(root, 0o755))
	check(makeRepo(work, filepath.Join(root, "gitops"), *targets))
	srv, err := gittest.Serve(root, gittest.WithToken(token))
	check(err)
	defer srv.Close()
	url := srv.URL + "/gitops"
	os.Setenv("BGRENDER_GIT_TOKEN", token)

	file := filepath.Join(work, "fleet.yaml")
	check(os.WriteFile(file, []byte(fleetFile(url, *targets, *wave)), 0o600))
	data, err := os.ReadFile(file)
	check(err)
	f, err := fleet.Load(file, data)
	check(err)

	ctx := context.Background()
	t0 := time.Now()
	p, err := fleet.PlanRelease(ctx, fleet.Options{Fleet: f, Image: "myapp:v2", LiveTimeout: time.Minute,
		Open: func(repo, branch, path string) (*promote.Target, error) {
			r, err := gitops.OpenRepo(repo, gitops.RepoOptions{})
			if err != nil {
				return nil, err
			}
			return &promote.Target{Repo: r, Branch: branch, Path: path, MaxAttempts: 10, AuthorName: "bench", AuthorEmail: "bench@localhost"}, nil
		},
		Gates: func(opts *cluster.Options) *release.Gates {
			// As the flags' defaults: the gates are named, never run.
			c := &gate.Checks{Timeout: 5 * time.Minute, HealthAttempts: 5, WarmRequests: 1, Measurements: 1, MeasurementInterval: 30 * time.Second, Window: time.Minute}
			return &release.Gates{Cluster: opts, Checks: c, NoCluster: true}
		},
	})
	check(err)
	fmt.Printf("fleet: %d targets in %d waves of at most %d, one repository\n", *targets, len(p.Waves), *wave)
	fmt.Printf("plan (every folder read from Git, every wave planned): %s\n", time.Since(t0).Round(time.Millisecond))

	bare := filepath.Join(root, "gitops")
	for i, wp := range p.Waves {
		before := commitCount(bare)
		t := time.Now()
		for _, s := range wp.Steps {
			commits := &release.Plan{Action: "release", App: s.Plan.App}
			for _, e := range s.Plan.Entries {
				if _, ok := e.Step.(*release.Commit); ok {
					commits.Entries = append(commits.Entries, e)
				}
			}
			env := &release.Env{Target: s.Target, Command: "release", Log: io.Discard, Out: io.Discard, Start: t}
			_, err := release.Runner{}.Execute(ctx, commits, env, nil)
			check(err)
		}
		fmt.Printf("wave %d (%d targets): deploy and flip committed and pushed in %s, %d commits\n",
			i+1, len(wp.Members), time.Since(t).Round(time.Millisecond), commitCount(bare)-before)
	}
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	fmt.Printf("peak memory (max RSS of the process, the Git server aside): %.1f MB\n", float64(ru.Maxrss)/1024)
}

// fleetFile is a fleet of n targets in waves of size; the kubeconfig is
// never read (the bench reads no cluster).
func fleetFile(url string, n, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: bgrender.io/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n  repo: %s\n  targets:\n", url)
	for i := range n {
		fmt.Fprintf(&b, "    - {name: t%02d, path: clusters/t%02d, namespace: t%02d, labels: {wave: w%d}}\n", i, i, i, i/size)
	}
	b.WriteString("  waves:\n")
	for w := 0; w*size < n; w++ {
		fmt.Fprintf(&b, "    - {name: w%d, selector: {matchLabels: {wave: w%d}}, hold: 0s}\n", w, w)
	}
	return b.String()
}

// makeRepo creates a bare repository holding n copies of the plain app
// folder, each in its own namespace.
func makeRepo(work, bare string, n int) error {
	src := filepath.Join(work, "seed")
	for i := range n {
		dir := filepath.Join(src, "clusters", fmt.Sprintf("t%02d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, name := range []string{"service.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
			data, err := os.ReadFile(filepath.Join("testdata", "gitops", "plain", name))
			if err != nil {
				return err
			}
			text := strings.ReplaceAll(string(data), "namespace: production", fmt.Sprintf("namespace: t%02d", i))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				return err
			}
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", src},
		{"-C", src, "add", "-A"},
		{"-C", src, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "seed"},
		{"clone", "-q", "--bare", src, bare},
		{"-C", bare, "config", "http.receivepack", "true"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func commitCount(bare string) int {
	out, err := exec.Command("git", "-C", bare, "rev-list", "--count", "main").Output()
	check(err)
	var n int
	fmt.Sscan(string(out), &n)
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/fleet:", err)
		os.Exit(1)
	}
}
