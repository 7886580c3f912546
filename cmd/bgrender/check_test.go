package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/netnstest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/spec"
)

// TestCheckCLI runs `bgrender check` against a real API server (rollout
// through the Deployment status the test writes; health and warm-up
// through the service proxy to a server in a network namespace) and a
// real Prometheus, and checks exit codes 0, 2 and 3 and the messages.
func TestCheckCLI(t *testing.T) {
	srv := apiServer(t)
	var warmHits int
	pod := netnstest.Start(t, 8080, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.Write([]byte("ok"))
		case "/broken":
			http.Error(w, "no database", http.StatusInternalServerError)
		default:
			warmHits++
		}
	}))
	exp := promtest.NewExporter()
	exp.SetRate(`http_requests_total{app_kubernetes_io_name="web",bgrender_io_color="green",code="200"}`, 99.8)
	exp.SetRate(`http_requests_total{app_kubernetes_io_name="web",bgrender_io_color="green",code="500"}`, 0.2)
	prom := promtest.Start(t, exp)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "cli-check", nil)
	app, err := apptest.Spec("web", ns, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := apptest.Create(ctx, srv, app); err != nil {
		t.Fatal(err)
	}
	if err := apptest.CreateEndpoints(ctx, srv.Dynamic(), app, "web-preview", spec.Green, 8080,
		apptest.Endpoint{Pod: "web-green-0", IP: pod.IP, Ready: true}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	promQuery := "http_requests_total{app_kubernetes_io_name=\"web\"}"
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, "rate("+promQuery+"[5s])")
	waitCancel()

	check := func(args ...string) result {
		t.Helper()
		return runCLI(t, "", append([]string{"check", "web", "-n", ns, "--kubeconfig", kubeconfig}, args...)...)
	}
	expect := func(r result, code int, stdout, stderr string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
			t.Errorf("exit %d, want %d\nstdout: %s\nwant: %s\nstderr: %s\nwant: %s", r.code, code, r.stdout, stdout, r.stderr, stderr)
		}
		if code != 0 && r.stdout != "" {
			t.Errorf("a failing check wrote to stdout: %q", r.stdout)
		}
	}

	expect(check("--require-rollout", "--timeout", "1s"), 3, "",
		"bgrender check: web green: rollout gate refused: deployment "+ns+"/web-green not rolled out after 1s: waiting for the controller to observe generation 1")

	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	all := []string{"--require-rollout", "--timeout", "10s", "--health-path", "/health", "--warm", "/", "--warm", "/cart", "--warm-requests", "2",
		"--prometheus-url", prom.URL, "--window", "5s"}
	r := check(append(all, "--max-error-rate", "1")...)
	expect(r, 0, "web: green passed rollout, health, warm-up, error-rate\n", "bgrender check: error-rate: 0.2% (maximum 1%)")
	if warmHits != 4 {
		t.Errorf("%d warm-up requests reached the pod, want 4", warmHits)
	}
	expect(check(append(all, "--max-error-rate", "0.1")...), 3, "", "error-rate gate refused: error rate 0.2% is not under the maximum 0.1%")
	expect(check("--health-path", "/broken", "--health-attempts", "2"), 3, "",
		"health gate refused: GET "+srv.Host()+"/api/v1/namespaces/"+ns+"/services/web-preview:http/proxy/broken failed 2 times; last: HTTP 500: no database")
	// The live color, by its Service.
	expect(check("--color", "blue", "--health-path", "/health", "--health-attempts", "1"), 3, "", `no endpoints available for service \"web\"`)

	expect(check(), 2, "", "no gate asked for")
	expect(check("--health-path", "/a", "--health-url", "http://x/"), 2, "", "exclude each other")
	expect(check("--prometheus-url", prom.URL), 2, "", "needs --max-error-rate")
	expect(check("--require-rollout", "--color", "purple"), 2, "", "--color must be blue or green")
	expect(runCLI(t, "", "check", "shop", "-n", ns, "--kubeconfig", kubeconfig, "--require-rollout"), 1, "", `app "shop" not found`)
}

// TestCheckSpecFile runs check with -f against a real API server: an app
// spec's gates run, and its metadata names the app and namespace; a plain
// folder's bgrender.gates (or a folder holding it) does the same with the
// app named on the command line; a flag overrides one setting; a bad file
// is exit 2 with file, line and field.
func TestCheckSpecFile(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-check-file")
	dir := t.TempDir()
	writeManaged(t, dir, "my-application")
	specFile := filepath.Join(dir, "bgrender.yaml")
	setNamespace(t, dir, "bgrender.yaml", ns)
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specFile, append(data, "  gates:\n    rollout: {timeout: 1s}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir()
	gatesFile := filepath.Join(plain, spec.GatesFile)
	if err := os.WriteFile(gatesFile, []byte("rollout:\n  timeout: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kc := []string{"--kubeconfig", kubeconfig}

	expectRun(t, "check -f spec", runCLI(t, "", append([]string{"check", "-f", specFile}, kc...)...), exitcode.Refused, "",
		"bgrender check: gates rollout (from "+specFile+" spec.gates)",
		"my-application green: rollout gate refused: deployment "+ns+"/my-application-green not rolled out after 1s")
	expectRun(t, "check -f spec --timeout", runCLI(t, "", append([]string{"check", "-f", specFile, "--timeout", "2s"}, kc...)...), exitcode.Refused, "",
		"overridden by --timeout", "not rolled out after 2s")
	expectRun(t, "check -f gates file", runCLI(t, "", append([]string{"check", "my-application", "-n", ns, "-f", gatesFile}, kc...)...), exitcode.Refused, "",
		"gates rollout (from "+gatesFile+")", "not rolled out after 2s")
	expectRun(t, "check -f folder", runCLI(t, "", append([]string{"check", "my-application", "-n", ns, "-f", plain}, kc...)...), exitcode.Refused, "",
		"not rolled out after 2s")
	expectRun(t, "check -f --no-spec-gates", runCLI(t, "", append([]string{"check", "-f", specFile, "--no-spec-gates"}, kc...)...), exitcode.Invalid, "",
		"no gate asked for")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	expectRun(t, "check -f spec, rolled out", runCLI(t, "", append([]string{"check", "-f", specFile}, kc...)...), 0, "my-application: green passed rollout")

	// --repo and --path read the app folder in Git, as promote does.
	r := newGitopsRepoIn(t, "managed", ns)
	r.handCommit(t, "bgrender.yaml", "  blue:\n", "  gates:\n    rollout: {timeout: 3s}\n  blue:\n")
	expectRun(t, "check --repo", r.run(t, append([]string{"check"}, kc...)...), 0, "my-application: green passed rollout",
		"gates rollout (from bgrender.yaml spec.gates)")
	expectRun(t, "check --repo with -f", r.run(t, append([]string{"check", "-f", specFile}, kc...)...), exitcode.Invalid, "", "not with -f")

	if err := os.WriteFile(gatesFile, []byte("rollout:\n  timeout: 2s\nwarmUp:\n  paths: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "", append([]string{"check", "my-application", "-f", gatesFile}, kc...)...)
	expectRun(t, "check -f bad gates file", res, exitcode.Invalid, "", gatesFile+":4: warmUp.paths: at least one path is required")
	if res.stdout != "" {
		t.Errorf("stdout: %q", res.stdout)
	}
	expectRun(t, "check without app", runCLI(t, "", append([]string{"check", "-f", gatesFile}, kc...)...), exitcode.Invalid, "", gatesFile+":4")
	expectRun(t, "check -f missing", runCLI(t, "", append([]string{"check", "web", "-f", filepath.Join(plain, "nope.yaml")}, kc...)...), exitcode.Invalid, "", "nope.yaml")
}
