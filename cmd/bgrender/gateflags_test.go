package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestGateFlagErrors: bad gate and cluster flags are bad usage (exit 2),
// named in the message, with nothing on stdout, before any cluster or Git
// server is contacted (the kubeconfig's server and the repository do not
// exist: reaching them would exit 1).
func TestGateFlagErrors(t *testing.T) {
	kc := kubetest.WriteKubeconfigFor(t, "http://127.0.0.1:1", "default", "")
	garbage := filepath.Join(t.TempDir(), "garbage.yaml")
	if err := os.WriteFile(garbage, []byte("clusters: [ {"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := []string{"check", "web", "--kubeconfig", kc}
	git := []string{"--repo", "https://git.invalid/ops/gitops.git", "--path", "apps/web"}
	promote := append([]string{"promote", "--kubeconfig", kc}, git...)
	deploy := append([]string{"deploy", "--image", "web:2", "--wait", "--kubeconfig", kc}, git...)
	guard := append([]string{"guard", "web", "--kubeconfig", kc, "--prometheus-url", "http://prometheus:9090"}, git...)
	prom := []string{"--prometheus-url", "http://prometheus:9090"}
	with := func(base []string, args ...string) []string { return append(append([]string(nil), base...), args...) }
	tests := map[string]struct {
		args []string
		want string
	}{
		"check NaN":                 {with(check, append(prom, "--max-error-rate", "NaN")...), "--max-error-rate NaN"},
		"check Inf":                 {with(check, append(prom, "--max-error-rate", "Inf")...), "--max-error-rate +Inf"},
		"check negative rate":       {with(check, append(prom, "--max-error-rate", "-1")...), "--max-error-rate -1"},
		"check zero rate":           {with(check, append(prom, "--max-error-rate", "0")...), "needs --max-error-rate"},
		"check rate over 100":       {with(check, append(prom, "--max-error-rate", "150")...), "--max-error-rate 150"},
		"check NaN alone":           {with(check, "--max-error-rate", "NaN"), "--max-error-rate NaN"},
		"check bad prometheus URL":  {with(check, "--prometheus-url", "not a url", "--max-error-rate", "1"), `--prometheus-url "not a url": want an absolute http or https URL`},
		"check bad health URL":      {with(check, "--health-url", "preview.example.com/health"), "--health-url"},
		"check negative timeout":    {with(check, "--require-rollout", "--timeout", "-1s"), "--timeout -1s"},
		"check zero attempts":       {with(check, "--health-path", "/h", "--health-attempts", "0"), "--health-attempts 0"},
		"check negative attempts":   {with(check, "--health-path", "/h", "--health-attempts", "-3"), "--health-attempts -3"},
		"check warm requests":       {with(check, "--warm", "/", "--warm-requests", "-1"), "--warm-requests -1"},
		"check window":              {with(check, append(prom, "--max-error-rate", "1", "--window", "-1m")...), "--window -1m0s"},
		"check bad query":           {with(check, append(prom, "--max-error-rate", "1", "--query", "sum(x{a=\"{{ .bad\"})")...), "--query: unknown placeholder"},
		"check request timeout":     {with(check, "--require-rollout", "--request-timeout", "0s"), "--request-timeout 0s"},
		"check namespace":           {with(check, "--require-rollout", "-n", "Prod_1"), `namespace "Prod_1" is not valid`},
		"check app":                 {[]string{"check", "Web.App", "--kubeconfig", kc, "--require-rollout"}, `app name "Web.App" is not valid`},
		"check missing kubeconfig":  {[]string{"check", "web", "--kubeconfig", "/nonexist", "--require-rollout"}, "kubeconfig /nonexist: no such file"},
		"check garbage kubeconfig":  {[]string{"check", "web", "--kubeconfig", garbage, "--require-rollout"}, garbage},
		"check unknown context":     {with(check, "--require-rollout", "--context", "nope"), `context "nope"`},
		"promote NaN":               {with(promote, append(prom, "--max-error-rate", "NaN")...), "--max-error-rate NaN"},
		"promote Inf":               {with(promote, append(prom, "--max-error-rate", "+Inf")...), "--max-error-rate +Inf"},
		"promote rollout timeout":   {with(promote, "--require-rollout", "--rollout-timeout", "-3s"), "--rollout-timeout -3s"},
		"promote attempts":          {with(promote, "--health-path", "/h", "--health-attempts", "0"), "--health-attempts 0"},
		"promote app":               {with(promote, "--require-rollout", "--app", "Web_App"), `app name "Web_App" is not valid`},
		"promote namespace":         {with(promote, "--require-rollout", "-n", "-prod"), `namespace "-prod" is not valid`},
		"deploy --wait NaN":         {with(deploy, append(prom, "--max-error-rate", "NaN")...), "--max-error-rate NaN"},
		"deploy --wait 101":         {with(deploy, append(prom, "--max-error-rate", "101")...), "--max-error-rate 101"},
		"deploy --wait timeout":     {with(deploy, "--rollout-timeout", "-1m"), "--rollout-timeout -1m0s"},
		"deploy --wait app":         {with(deploy, "--app", "WEB"), `app name "WEB" is not valid`},
		"deploy --wait kubeconfig":  {[]string{"deploy", "--image", "web:2", "--wait", "--kubeconfig", "/nonexist", "--repo", "https://git.invalid/x.git", "--path", "apps/web"}, "kubeconfig /nonexist"},
		"deploy --wait bad prom":    {with(deploy, "--prometheus-url", "file:///etc/passwd", "--max-error-rate", "1"), "--prometheus-url"},
		"guard NaN":                 {with(guard, "--max-error-rate", "NaN"), "--max-error-rate NaN"},
		"guard Inf":                 {with(guard, "--max-error-rate", "Inf"), "--max-error-rate +Inf"},
		"guard negative":            {with(guard, "--max-error-rate", "-2"), "--max-error-rate -2"},
		"guard zero":                {with(guard, "--max-error-rate", "0"), "needs --max-error-rate"},
		"guard bad prometheus URL":  {[]string{"guard", "web", "--kubeconfig", kc, "--prometheus-url", "prometheus:9090", "--max-error-rate", "1", "--repo", "https://git.invalid/x.git", "--path", "apps/web"}, "--prometheus-url"},
		"guard interval":            {with(guard, "--max-error-rate", "1", "--interval", "0s"), "--interval 0s"},
		"guard for":                 {with(guard, "--max-error-rate", "1", "--for", "-1m"), "--for -1m0s"},
		"guard window":              {with(guard, "--max-error-rate", "1", "--window", "-1m"), "--window -1m0s"},
		"guard app":                 {[]string{"guard", "Web_1", "--kubeconfig", kc, "--prometheus-url", "http://p:9090", "--max-error-rate", "1", "--repo", "https://git.invalid/x.git", "--path", "apps/web"}, `app name "Web_1" is not valid`},
		"guard namespace":           {with(guard, "--max-error-rate", "1", "-n", "UPPER"), `namespace "UPPER" is not valid`},
		"status app":                {[]string{"status", "web_app", "--kubeconfig", kc}, `app name "web_app" is not valid`},
		"status namespace":          {[]string{"status", "-n", "a.b", "--kubeconfig", kc}, `namespace "a.b" is not valid`},
		"status missing kubeconfig": {[]string{"status", "--kubeconfig", "/nonexist"}, "kubeconfig /nonexist: no such file"},
		"status garbage kubeconfig": {[]string{"status", "--kubeconfig", garbage}, garbage},
		"status request timeout":    {[]string{"status", "--kubeconfig", kc, "--request-timeout", "-1s"}, "--request-timeout -1s"},
	}
	for name, tt := range tests {
		r := runCLI(t, "", tt.args...)
		if r.code != exitcode.Invalid || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%s: bgrender %q: exit %d, stdout %q, stderr %q; want exit 2, no stdout, and %q", name, tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}

	// A kubeconfig that parses, whose server is down: a runtime failure.
	if r := runCLI(t, "", "status", "web", "--kubeconfig", kc); r.code != exitcode.Failure || r.stdout != "" {
		t.Errorf("status against a closed port: exit %d, stdout %q, stderr %q; want exit 1", r.code, r.stdout, r.stderr)
	}
}

// TestGatesOnHangingCluster runs the commands that read the cluster against an
// API server that accepts connections and never answers: each ends with
// exit 1 within a bound, rather than hanging.
func TestGatesOnHangingCluster(t *testing.T) {
	kc := kubetest.WriteKubeconfigFor(t, kubetest.SilentServer(t), "default", "")
	short := []string{"--kubeconfig", kc, "--request-timeout", "1s"}
	exit1 := func(t *testing.T, bound time.Duration, stdin string, args ...string) {
		t.Helper()
		start := time.Now()
		r := runCLI(t, stdin, args...)
		if took := time.Since(start); took > bound {
			t.Errorf("bgrender %q took %s, want at most %s", args, took, bound)
		}
		if r.code != exitcode.Failure || r.stdout != "" {
			t.Errorf("bgrender %q: exit %d, stdout %q, stderr %q; want exit 1", args, r.code, r.stdout, r.stderr)
		}
	}
	tests := map[string][]string{
		"status":       {"status"},
		"status APP":   {"status", "web"},
		"check":        {"check", "web", "--require-rollout", "--timeout", "1s"},
		"check health": {"check", "web", "--health-path", "/h"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) { exit1(t, 20*time.Second, "", append(args, short...)...) })
	}
	t.Run("promote", func(t *testing.T) {
		repo := newGitopsRepo(t, "managed", 0)
		exit1(t, 20*time.Second, "", append([]string{"promote", "--require-rollout", "--rollout-timeout", "1s", "--repo", repo.url, "--path", appPath}, short...)...)
		if repo.srv.Pushes() != 0 {
			t.Errorf("promote pushed without an answer from the cluster")
		}
	})
	t.Run("postrender", func(t *testing.T) {
		for _, from := range [][]string{{"--from-cluster"}, {"--from-release", "web"}} {
			t.Run(from[0], func(t *testing.T) {
				exit1(t, 20*time.Second, chartStream, append([]string{"postrender"}, append(from, short...)...)...)
			})
		}
	})
}

// TestGatesPrintNoSecrets runs check and guard with a password and a
// query token in --prometheus-url and --health-url: neither appears in
// what they print, in progress messages, refusals or errors.
func TestGatesPrintNoSecrets(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-secrets")
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	const (
		promURL   = "http://user:SEKRITPROM@127.0.0.1:1/?token=SEKRITQ"
		healthURL = "http://user:SEKRITHEALTH@127.0.0.1:1/h?token=SEKRITQ"
	)
	cl := []string{"--kubeconfig", kubeconfig, "-n", ns}
	noSecret := func(what string, r result) {
		t.Helper()
		for _, s := range []string{"SEKRITPROM", "SEKRITHEALTH", "SEKRITQ"} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("%s printed %s:\n%s%s", what, s, r.stdout, r.stderr)
			}
		}
	}

	r := runCLI(t, "", append([]string{"check", "my-application", "--prometheus-url", promURL, "--max-error-rate", "5"}, cl...)...)
	noSecret("check --prometheus-url", r)
	expectRun(t, "check with Prometheus down", r, exitcode.Failure, "", "query Prometheus at http://user:***@127.0.0.1:1/?token=***")

	r = runCLI(t, "", append([]string{"check", "my-application", "--health-url", healthURL, "--health-attempts", "2"}, cl...)...)
	noSecret("check --health-url", r)
	expectRun(t, "check with the preview down", r, exitcode.Refused, "",
		"bgrender check: health: GET http://user:***@127.0.0.1:1/h?token=***",
		"attempt 1 of 2: GET http://user:***@127.0.0.1:1/h?token=***",
		"health gate refused: GET http://user:***@127.0.0.1:1/h?token=*** failed 2 times")

	r = runCLI(t, "", append([]string{"check", "my-application", "--prometheus-url", "htp://user:SEKRITPROM@x/?token=SEKRITQ", "--max-error-rate", "5"}, cl...)...)
	noSecret("check with a bad --prometheus-url", r)
	expectRun(t, "check with a bad --prometheus-url", r, exitcode.Invalid, "", "--prometheus-url")

	repo := newGitopsRepoIn(t, "managed", ns)
	r = repo.run(t, append([]string{"guard", "my-application", "--prometheus-url", promURL, "--max-error-rate", "5",
		"--for", "1500ms", "--interval", "500ms"}, cl...)...)
	noSecret("guard", r)
	expectRun(t, "guard with Prometheus down", r, exitcode.Failure, "", "query Prometheus at http://user:***@127.0.0.1:1/?token=***")
	if repo.srv.Pushes() != 0 {
		t.Error("guard rolled back without a measurement")
	}
}

// flagLine is a line of the flags' --help: the flag, its argument, two
// spaces or more, its usage.
var flagLine = regexp.MustCompile(`(?m)^ +(?:-\w, )?--([a-z-]+)(?:\[=[^\]]*\])?(?: \S+)? {2,}.*$`)

// TestGateFlagsSayTheyOverrideTheSpec: every gate flag of promote, deploy,
// check and guard says in --help which setting of spec.gates it
// overrides, and each command offers --no-spec-gates.
func TestGateFlagsSayTheyOverrideTheSpec(t *testing.T) {
	gateFlags := map[string][]string{
		"promote": {"require-rollout", "rollout-timeout", "health-path", "health-url", "health-port", "health-attempts", "warm", "warm-requests", "prometheus-url", "max-error-rate", "query", "window", "measurements", "measurement-interval", "failure-limit", "allow-no-data"},
		"check":   {"require-rollout", "timeout", "health-path", "health-url", "health-port", "health-attempts", "warm", "warm-requests", "prometheus-url", "max-error-rate", "query", "window", "measurements", "measurement-interval", "failure-limit", "allow-no-data"},
		"guard":   {"prometheus-url", "max-error-rate", "query", "window", "allow-no-data", "for", "interval"},
	}
	gateFlags["deploy"] = gateFlags["promote"]
	for cmd, flags := range gateFlags {
		res := runCLI(t, "", cmd, "--help")
		if res.code != 0 {
			t.Fatalf("%s --help: exit %d: %s", cmd, res.code, res.stderr)
		}
		help := res.stdout + res.stderr
		lines := map[string]string{}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			lines[m[1]] = m[0]
		}
		for _, f := range flags {
			if !strings.Contains(lines[f], "(overrides spec.gates.") {
				t.Errorf("%s --%s: its help does not say which spec.gates setting it overrides: %q", cmd, f, lines[f])
			}
		}
		if !strings.Contains(lines[gate.NoSpecGatesFlag], "do not run the") {
			t.Errorf("%s has no --%s: %q", cmd, gate.NoSpecGatesFlag, lines[gate.NoSpecGatesFlag])
		}
	}
}
