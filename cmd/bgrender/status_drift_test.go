package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStatusDriftFromGit reads the live app from a real API server and
// what Git wants from a real Git server: the differences are listed, and a
// promote committed in Git (not yet applied) shows as a live-color drift.
func TestStatusDriftFromGit(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-status-drift")
	r := newGitopsRepoIn(t, "managed", ns)
	status := func() map[string]any {
		t.Helper()
		res := r.run(t, "status", "my-application", "--kubeconfig", kubeconfig, "-n", ns, "-o", "json")
		if res.code != 0 {
			t.Fatalf("status: exit %d: %s", res.code, res.stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatal(err)
		}
		return out["git"].(map[string]any)
	}
	git := status()
	drift := git["drift"].([]any)
	if git["live"] != "blue" || len(drift) == 0 {
		t.Fatalf("git view %v: want live blue and image/replica drift", git)
	}
	for _, d := range drift {
		if strings.Contains(d.(string), "routes traffic") {
			t.Errorf("both route to blue, yet: %s", d)
		}
	}
	var joined []string
	for _, d := range drift {
		joined = append(joined, d.(string))
	}
	if s := strings.Join(joined, "\n"); !strings.Contains(s, "blue: Git wants image myapp:v1.2.3, the cluster runs registry.example/my-application:1") || !strings.Contains(s, "Git wants 3 replicas, the cluster 1") {
		t.Errorf("drift:\n%s", s)
	}

	r.mustRun(t, "promote")
	git = status()
	found := false
	for _, d := range git["drift"].([]any) {
		found = found || d.(string) == "Git routes traffic to green, the cluster to blue"
	}
	if git["live"] != "green" || !found {
		t.Errorf("after a promote in Git: %v", git)
	}

	table := r.run(t, "status", "my-application", "--kubeconfig", kubeconfig, "-n", ns)
	if table.code != 0 || !strings.Contains(table.stdout, "drift: Git routes traffic to green, the cluster to blue") {
		t.Errorf("table output:\n%s%s", table.stdout, table.stderr)
	}
	if res := runCLI(t, "", "status", "--repo", r.url, "-n", ns); res.code != 2 {
		t.Errorf("--repo without APP and --path: exit %d", res.code)
	}
}
