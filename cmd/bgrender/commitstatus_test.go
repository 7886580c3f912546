package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/forgetest"
)

// TestCommitStatusGitHub sets commit statuses on direct commits through a
// fake of GitHub's API, with a real Git server and a real API server: a
// promote whose --wait-live times out (nothing applies the commit) ends
// pending → failure with the reason; a deploy with no gate ends pending →
// success. A forge that refuses the status is a warning, not a failure.
func TestCommitStatusGitHub(t *testing.T) {
	kube := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, kube, "cli-commit-status")
	const apiToken = "api-token-5150"
	r := newGitopsRepoIn(t, "managed", ns)
	r.moveUnder(t, "acme")
	t.Setenv("BGRENDER_FORGE_TOKEN", apiToken)
	fake := forgetest.GitHub(t, "acme", "gitops", apiToken)
	forgeArgs := []string{"--commit-status", "--forge", "github", "--forge-api", fake.URL}

	res := r.run(t, append([]string{"promote", "--kubeconfig", kubeconfig, "-n", ns, "--wait-live", "--live-timeout", "2s"}, forgeArgs...)...)
	expectRun(t, "promote that is never applied", res, 1, "promote my-application: switch traffic from blue to green; committed", "the change stays")
	promoted := r.git(t, "rev-parse", "main")
	st := fake.Statuses()
	if len(st) != 2 || st[0].SHA != promoted || st[0].Context != "bgrender/my-application" || st[0].State != "pending" ||
		st[1].SHA != promoted || st[1].State != "failure" || !strings.Contains(st[1].Description, "my-application: Service "+ns+"/my-application not serving green after 2") {
		t.Fatalf("statuses after the timed-out wait: %+v", st)
	}

	res = r.run(t, append([]string{"deploy", "--image", "myapp:v7"}, forgeArgs...)...)
	expectRun(t, "deploy", res, 0, "deploy my-application: run myapp:v7 on blue; committed")
	deployed := r.git(t, "rev-parse", "main")
	st = fake.Statuses()[2:]
	if len(st) != 2 || st[0].SHA != deployed || st[0].State != "pending" || st[1].State != "success" || st[1].Description != "committed (no gate, no wait for the cluster)" {
		t.Fatalf("statuses of the deploy: %+v", st)
	}

	// A token the forge refuses: the deploy stands, with a warning.
	t.Setenv("BGRENDER_FORGE_TOKEN", "wrong-token-xyz")
	res = r.run(t, append([]string{"deploy", "--image", "myapp:v8"}, forgeArgs...)...)
	expectRun(t, "deploy with a refused status", res, 0, "deploy my-application: run myapp:v8 on blue; committed",
		"bgrender deploy: warning: commit status bgrender/my-application pending on ", "401")
	if strings.Contains(res.stderr, "wrong-token-xyz") {
		t.Fatal("the forge token was printed")
	}
}
