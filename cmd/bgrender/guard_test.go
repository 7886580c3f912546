package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/forgetest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

// TestGuardCLI runs bgrender guard against a real API server, a real
// Prometheus scraping an exporter whose counters the test sets, and a real
// Git server: a low error rate for the whole window exits 0 and commits
// nothing; a rate that rises during the window, or a live Deployment that
// loses its available replicas, gives exactly one rollback commit whose
// subject says what tripped it, and exit 3; an unreachable Prometheus is
// retried and reported, never rolled back.
func TestGuardCLI(t *testing.T) {
	srv := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="blue",code="%s"}`
	ok, failed := strings.Replace(series, "%s", "200", 1), strings.Replace(series, "%s", "500", 1)
	exp.SetRate(ok, 100)
	exp.SetRate(failed, 0.5)
	prom := promtest.Start(t, exp)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-guard")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()

	guardArgs := func(promURL, window string) []string {
		return []string{"guard", "my-application", "--kubeconfig", kubeconfig, "-n", ns,
			"--prometheus-url", promURL, "--max-error-rate", "5", "--window", "5s", "--for", window, "--interval", "500ms"}
	}

	t.Run("holds", func(t *testing.T) {
		r := newGitopsRepoIn(t, "managed", ns)
		before := r.commits(t)
		res := r.run(t, guardArgs(prom.URL, "3s")...)
		expectRun(t, "guard over a low error rate", res, 0,
			"my-application: blue held for 3s: error rate under 5%, deployment my-application-blue available",
			"bgrender guard: watching my-application blue for 3s every 500ms")
		if n := r.commits(t); n != before || r.srv.Pushes() != 0 {
			t.Fatalf("guard without a breach: %d commits (want %d), %d pushes", n, before, r.srv.Pushes())
		}
	})

	t.Run("prometheus unreachable", func(t *testing.T) {
		r := newGitopsRepoIn(t, "managed", ns)
		res := r.run(t, guardArgs("http://127.0.0.1:1", "1500ms")...)
		expectRun(t, "guard without Prometheus", res, exitcode.Failure, "",
			"bgrender guard: error rate: error-rate gate: query Prometheus at http://127.0.0.1:1 (1 attempts):", "(retrying in 500ms)",
			"error rate could not be read in 1.5s")
		if r.srv.Pushes() != 0 {
			t.Fatal("guard rolled back without a measurement")
		}
	})

	t.Run("error rate rises", func(t *testing.T) {
		r := newGitopsRepoIn(t, "managed", ns)
		before := r.commits(t)
		hooks := newHookReceiver(t)
		done := make(chan result, 1)
		go func() {
			done <- runCLI(t, "", append(guardArgs(prom.URL, "60s"), "--repo", r.url, "--path", appPath, "--notify", hooks.URL+"/guard")...)
		}()
		time.Sleep(1500 * time.Millisecond)
		exp.SetRate(failed, 50)
		defer exp.SetRate(failed, 0.5)
		var res result
		select {
		case res = <-done:
		case <-ctx.Done():
			t.Fatal("guard did not end")
		}
		if strings.Contains(res.stdout+res.stderr, gitToken) {
			t.Fatalf("guard printed the token:\n%s%s", res.stdout, res.stderr)
		}
		expectRun(t, "guard over a rising error rate", res, exitcode.Refused,
			"rollback my-application: switch traffic back from blue to green: guard: error rate ",
			"is not under the maximum 5%; rolling back",
			"bgrender guard: my-application blue: error rate ", "; rolled back (commit ")
		if n := r.commits(t); n != before+1 {
			t.Fatalf("%d commits, want exactly one rollback (%d)", n, before+1)
		}
		// --notify: the breach, then the rollback it led to.
		events := hooks.got("/guard")
		if len(events) != 2 || events[0].Event != "guard-breach" || events[0].From != "blue" || events[0].To != "green" ||
			!strings.Contains(events[0].Reason, "is not under the maximum 5%") || !strings.HasPrefix(events[0].Text, "bgrender guard: my-application blue breached: ") ||
			events[1].Event != "rollback" || events[1].From != "blue" || events[1].To != "green" || events[1].Commit != r.git(t, "rev-parse", "main") {
			t.Errorf("events: %+v", events)
		}
		subject := r.git(t, "log", "-1", "--format=%s", "main")
		if !strings.HasPrefix(subject, "rollback my-application: switch traffic back from blue to green: guard: error rate ") || !strings.HasSuffix(subject, "is not under the maximum 5%") {
			t.Errorf("rollback subject %q does not say what tripped it", subject)
		}
		r.checkTrailers(t, map[string]string{"Bgrender-Action": "rollback", "Bgrender-From": "blue", "Bgrender-To": "green"})
		if !strings.Contains(r.file(t, "bgrender.yaml"), "active: green") {
			t.Error("the rollback did not make green active")
		}
	})

	t.Run("deployment loses its replicas", func(t *testing.T) {
		r := newGitopsRepoIn(t, "managed", ns)
		before := r.commits(t)
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", func(d *appsv1.Deployment) {
			apptest.RolledOut(d)
			d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 0, 0, 1
		}); err != nil {
			t.Fatal(err)
		}
		// A query that stays at 0%, so that only readiness can trip.
		res := r.run(t, append(guardArgs(prom.URL, "30s"), "--query", "0 * vector(1)")...)
		expectRun(t, "guard over an unavailable Deployment", res, exitcode.Refused,
			"rollback my-application: switch traffic back from blue to green: guard: deployment "+ns+"/my-application-blue has 0 of 1 replicas available",
			"; rolled back (commit ")
		if n := r.commits(t); n != before+1 {
			t.Fatalf("%d commits, want exactly one rollback (%d)", n, before+1)
		}
	})
	t.Run("rollback as a pull request", func(t *testing.T) {
		// The Deployment is still unavailable from the previous subtest.
		r := newGitopsRepoIn(t, "managed", ns)
		r.moveUnder(t, "acme")
		const apiToken = "api-token-guard"
		t.Setenv("BGRENDER_FORGE_TOKEN", apiToken)
		fake := forgetest.GitHub(t, "acme", "gitops", apiToken)
		before := r.commits(t)
		res := r.run(t, append(guardArgs(prom.URL, "30s"), "--query", "0 * vector(1)", "--pull-request", "--forge", "github", "--forge-api", fake.URL)...)
		expectRun(t, "guard with --pull-request", res, exitcode.Refused,
			"rollback my-application: switch traffic back from blue to green: guard: deployment "+ns+"/my-application-blue has 0 of 1 replicas available",
			"; rolled back (pull request ")
		if n := r.commits(t); n != before {
			t.Fatalf("main has %d commits, want %d: the rollback must wait for review", n, before)
		}
		pulls := fake.Pulls()
		if len(pulls) != 1 || pulls[0].Head != "bgrender/rollback-my-application-green" || !strings.Contains(pulls[0].Title, "guard: deployment") {
			t.Fatalf("pull requests: %+v", pulls)
		}
		if got := r.git(t, "show", "bgrender/rollback-my-application-green:"+appPath+"/bgrender.yaml"); !strings.Contains(got, "active: green") {
			t.Error("the pull request's branch does not make green active")
		}
		if strings.Contains(res.stdout+res.stderr, apiToken) || strings.Contains(res.stdout+res.stderr, gitToken) {
			t.Fatal("guard printed a token")
		}
	})
	t.Run("past a contract", func(t *testing.T) {
		// Blue is still unavailable; green runs an image that blue's
		// contract retired: guard reports, and does not roll back.
		r := newContractedRepoIn(t, ns)
		before := r.commits(t)
		res := r.run(t, append(guardArgs(prom.URL, "30s"), "--query", "0 * vector(1)")...)
		expectRun(t, "guard past a contract", res, exitcode.Refused, "",
			"bgrender guard: my-application blue: deployment "+ns+"/my-application-blue has 0 of 1 replicas available; not rolled back: green runs myapp:v1.2.3, which predates the contract of my-application's schema for myapp:v2")
		if n := r.commits(t); n != before {
			t.Fatalf("%d commits, want %d: no rollback past a contract", n, before)
		}
	})
}

// TestGuardSpecGates runs guard with the gates of the app folder against a
// real API server, Prometheus and Git server: with no Prometheus flag at
// all, it reads the error rate as spec.gates.errorRate says and watches
// as spec.gates.guard says; --max-error-rate overrides guard.maxPercent
// alone, and the breach it finds rolls back.
func TestGuardSpecGates(t *testing.T) {
	srv := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="blue",code="%s"}`
	exp.SetRate(strings.Replace(series, "%s", "200", 1), 99.5)
	exp.SetRate(strings.Replace(series, "%s", "500", 1), 0.5)
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-guard-spec")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()
	r := newGitopsRepoIn(t, "managed", ns)
	r.setSpecGates(t, "    errorRate:\n      prometheusURL: "+prom.URL+"\n      maxPercent: 5\n      window: 5s\n    guard:\n      for: 2s\n      interval: 500ms\n")
	before := r.commits(t)
	cl := []string{"guard", "my-application", "--kubeconfig", kubeconfig, "-n", ns}

	res := r.run(t, cl...)
	expectRun(t, "guard with the spec's gates", res, 0, "my-application: blue held for 2s: error rate under 5%",
		"bgrender guard: gates guard (from bgrender.yaml spec.gates)", "watching my-application blue for 2s every 500ms")
	if r.commits(t) != before || r.srv.Pushes() != 0 {
		t.Fatal("guard without a breach changed the repository")
	}

	res = r.run(t, append(cl, "--max-error-rate", "0.1")...)
	expectRun(t, "guard with --max-error-rate over the spec", res, exitcode.Refused,
		"rollback my-application: switch traffic back from blue to green: guard: error rate 0.5",
		"(from bgrender.yaml spec.gates; overridden by --max-error-rate)", "is not under the maximum 0.1%; rolling back")
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits, want one rollback (%d)", n, before+1)
	}

	// --no-spec-gates: the flags alone, which name no Prometheus.
	expectRun(t, "guard --no-spec-gates", r.run(t, append(cl, "--no-spec-gates")...), exitcode.Invalid, "", "--prometheus-url and --max-error-rate are required")
	// A spec without an error-rate gate gives guard nothing to read.
	r.setSpecGates(t, "    rollout: {}\n")
	expectRun(t, "guard without errorRate", r.run(t, cl...), exitcode.Invalid, "", "bgrender.yaml spec.gates has no errorRate gate to read them from")
}

// TestGuardWatchesTheShift: while Git sends a share to the idle color,
// guard watches that color too, against a real API server, Prometheus and
// Git server; a breach there returns its share to the live color (one
// shift to 0 whose subject says why, exit 3) instead of rolling back the
// live color, which stays.
func TestGuardWatchesTheShift(t *testing.T) {
	srv := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="%s",code="%s"}`
	for _, c := range []string{"blue", "green"} {
		exp.SetRate(fmt.Sprintf(series, c, "200"), 100)
		exp.SetRate(fmt.Sprintf(series, c, "500"), 0.5)
	}
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "guard-shift")
	for _, d := range []string{"my-application-blue", "my-application-green"} {
		if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, d, apptest.RolledOut); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()
	r := managedNGINXRepoIn(t, ns, "  traffic:\n    weight: 20\n    nginx: {}\n")
	before := r.commits(t)
	done := make(chan result, 1)
	go func() {
		done <- runCLI(t, "", "guard", "my-application", "--kubeconfig", kubeconfig, "--prometheus-url", prom.URL, "--max-error-rate", "5",
			"--window", "5s", "--for", "60s", "--interval", "500ms", "--repo", r.url, "--path", appPath)
	}()
	time.Sleep(1500 * time.Millisecond)
	exp.SetRate(fmt.Sprintf(series, "green", "500"), 50)
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		t.Fatal("guard did not end")
	}
	expectRun(t, "guard over a failing shifted color", res, exitcode.Refused,
		"shift my-application: send 0% of traffic to green (blue keeps 100%): guard: green error rate ",
		"watching my-application green too: Git sends it 20% of the traffic", "; its share returned to blue (commit ")
	if n := r.commits(t); n != before+1 {
		t.Fatalf("%d commits, want exactly one (%d)", n, before+1)
	}
	sp := r.file(t, "bgrender.yaml")
	if !strings.Contains(sp, "weight: 0") || !strings.Contains(sp, "active: blue") {
		t.Errorf("after guard:\n%s", sp)
	}
}
