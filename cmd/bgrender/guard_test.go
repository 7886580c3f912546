package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/guard"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/forgetest"
	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/status"
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
		// The breach event carries the readings guard took; the commit
		// message shows the same ones, as a table and a chart.
		msg := r.git(t, "log", "-1", "--format=%B", "main")
		if len(events) > 0 {
			checkBreach(t, events[0].Breach, "blue", 5, msg)
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
	// The commit shows the readings of the color that breached.
	if msg := r.git(t, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "**Guard's breach**: green breached at ") ||
		!strings.Contains(msg, "error-rate readings guard took of green, every 500ms:") || !strings.Contains(msg, "xychart-beta") {
		t.Errorf("the shift's commit message does not carry green's readings:\n%s", msg)
	}
}

// TestGuardRollbackPullRequestGitea: guard's rollback as a pull request
// on a real Gitea, with a real API server, Prometheus and an HTTP
// receiver for --notify: the receiver gets the breach event, with the
// readings guard took, before the rollback event; the body read back
// through Gitea's API and the branch's commit message show those
// readings in a table and a Mermaid chart against the maximum.
func TestGuardRollbackPullRequestGitea(t *testing.T) {
	kube := apiServer(t)
	exp := promtest.NewExporter()
	const series = `http_requests_total{app_kubernetes_io_name="my-application",bgrender_io_color="blue",code="%s"}`
	exp.SetRate(fmt.Sprintf(series, "200"), 100)
	exp.SetRate(fmt.Sprintf(series, "500"), 0.5)
	prom := promtest.Start(t, exp)
	gitea := giteatest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, kube, "guard-gitea")
	if err := apptest.SetStatus(ctx, kube.Dynamic(), ns, "my-application-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	blueState(t, ctx, kube.Dynamic(), ns)
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="my-application"}[5s])`)
	waitCancel()
	url := gitea.CreateRepo(t, "gitops", seedManaged(t, ns))
	t.Setenv("BGRENDER_GIT_TOKEN", "")
	t.Setenv("GITEA_TOKEN", gitea.Token)
	hooks := newHookReceiver(t)

	done := make(chan result, 1)
	go func() {
		done <- runCLI(t, "", "guard", "my-application", "--kubeconfig", kubeconfig, "-n", ns, "--prometheus-url", prom.URL, "--max-error-rate", "5",
			"--window", "5s", "--for", "60s", "--interval", "1s", "--repo", url, "--path", appPath, "--pull-request", "--forge", "gitea", "--notify", hooks.URL+"/guard")
	}()
	time.Sleep(3500 * time.Millisecond)
	exp.SetRate(fmt.Sprintf(series, "500"), 50)
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		t.Fatal("guard did not end")
	}
	expectRun(t, "guard's rollback pull request on Gitea", res, exitcode.Refused,
		"rollback my-application: switch traffic back from blue to green: guard: error rate ", "; rolled back (pull request ")
	if strings.Contains(res.stdout+res.stderr, gitea.Token) {
		t.Fatal("guard printed the token")
	}
	events := hooks.got("/guard")
	if len(events) != 2 || events[0].Event != "guard-breach" || events[1].Event != "rollback" || events[1].PullRequest == "" {
		t.Fatalf("events: %+v", events)
	}
	b := events[0].Breach
	if b != nil && len(b.Readings) < 3 {
		t.Errorf("%d readings before the breach, want the low ones too: %+v", len(b.Readings), b.Readings)
	}

	var pulls []struct {
		Body string `json:"body"`
		Head struct {
			SHA string `json:"sha"`
		} `json:"head"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) != 1 {
		t.Fatalf("%d pull requests", len(pulls))
	}
	t.Logf("the rollback's body:\n%s", pulls[0].Body)
	checkBreach(t, b, "blue", 5, pulls[0].Body)
	if !strings.Contains(pulls[0].Body, "**rollback** of **my-application**") ||
		!regexp.MustCompile(`\| blue \| \*\*live\*\* \| [^|]+ \| 1 / 1 \| complete \| [0-9]+s \| 3 / 4 \(2–10\) \|`).MatchString(pulls[0].Body) ||
		!strings.Contains(pulls[0].Body, "| green | idle | ") {
		t.Errorf("the body lacks the rollback's evidence (blue's age and HPA):\n%s", pulls[0].Body)
	}
	var head struct {
		Commit struct {
			Message string `json:"message"`
		} `json:"commit"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/git/commits/"+pulls[0].Head.SHA, nil, &head)
	checkBreach(t, b, "blue", 5, head.Commit.Message)
}

// checkBreach checks what guard saw (the breach event's) against its
// threshold, and that text (a commit message or a pull request's body)
// shows those readings: the table's rows and the chart's line.
func checkBreach(t *testing.T, b *evidence.Breach, color string, maxPercent float64, text string) {
	t.Helper()
	if b == nil || b.Color != color || b.MaxPercent != maxPercent || len(b.Readings) == 0 || b.Taken < len(b.Readings) || len(b.Readings) > guard.KeepReadings {
		t.Fatalf("breach: %+v", b)
	}
	last := b.Readings[len(b.Readings)-1]
	if !last.Failed || last.Percent < maxPercent || last.At.IsZero() {
		t.Errorf("the last reading %+v did not breach %v%%", last, maxPercent)
	}
	layout := "15:04:05"
	for i := 1; i < len(b.Readings); i++ {
		if b.Readings[i].At.Truncate(time.Second).Equal(b.Readings[i-1].At.Truncate(time.Second)) {
			layout = "15:04:05.000" // readings less than a second apart
		}
	}
	var line []string
	for _, m := range b.Readings {
		row := fmt.Sprintf("| %s | %s%% |", m.At.UTC().Format(layout), gate.FormatPercent(m.Percent))
		switch {
		case m.NoData:
			row = fmt.Sprintf("| %s | no data |", m.At.UTC().Format(layout))
		case m.Failed:
			row = fmt.Sprintf("| %s | **%s%%** |", m.At.UTC().Format(layout), gate.FormatPercent(m.Percent))
		}
		if !m.NoData {
			line = append(line, gate.FormatPercent(m.Percent))
		}
		if !strings.Contains(text, row) {
			t.Errorf("%q is not in:\n%s", row, text)
		}
	}
	for _, want := range []string{"**Guard's breach**: " + color + " breached at ", "| time (UTC) | error rate | maximum | rate window |",
		"```mermaid\nxychart-beta\n", "    line [" + strings.Join(line, ", ") + "]\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q is not in:\n%s", want, text)
		}
	}
}

// blueState gives my-application-blue what a cluster's controllers would:
// its current ReplicaSet (revision 2, over an older one) and an HPA that
// reports 3 replicas, wanting 4, between 2 and 10.
func blueState(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns string) {
	t.Helper()
	d, err := dyn.Resource(cluster.Deployments).Namespace(ns).Get(ctx, "my-application-blue", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rev := range []string{"1", "2"} {
		rs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet",
			"metadata": map[string]any{"name": "my-application-blue-r" + rev, "labels": d.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["labels"],
				"annotations":     map[string]any{"deployment.kubernetes.io/revision": rev},
				"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.GetName(), "uid": string(d.GetUID()), "controller": true}}},
			"spec": map[string]any{"selector": d.Object["spec"].(map[string]any)["selector"], "template": d.Object["spec"].(map[string]any)["template"]}}}
		if _, err := dyn.Resource(status.ReplicaSets).Namespace(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	hpas := dyn.Resource(status.HorizontalPodAutoscalers).Namespace(ns)
	h, err := hpas.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
		"metadata": map[string]any{"name": "my-application-blue", "labels": map[string]any{"app.kubernetes.io/name": "my-application", "app.kubernetes.io/managed-by": "bgrender"}},
		"spec": map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "my-application-blue"},
			"minReplicas": int64(2), "maxReplicas": int64(10)}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedMap(h.Object, map[string]any{"currentReplicas": int64(3), "desiredReplicas": int64(4)}, "status"); err != nil {
		t.Fatal(err)
	}
	if _, err := hpas.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
