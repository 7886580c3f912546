package loop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

// TestReleaseInOneRun: `bgrender release` on the article's plain folder,
// with Flux applying each commit and a real Prometheus behind the
// error-rate gate. A refused gate leaves the deploy and commits no flip;
// the re-run resumes (no second deploy) and promotes once the gate
// passes; a release killed after its deploy resumes the same way; a
// release of the live image does nothing. Blue's pods are never restarted
// by a deploy to green.
func TestReleaseInOneRun(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	exp := promtest.NewExporter()
	series := func(color, code string) string {
		return fmt.Sprintf(`http_requests_total{app_kubernetes_io_name="application-service",version=%q,code=%q}`, color, code)
	}
	for _, c := range []string{"blue", "green"} {
		exp.SetRate(series(c, "200"), 90)
		exp.SetRate(series(c, "500"), 10) // 10%: the gate refuses
	}
	prom := promtest.Start(t, exp)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "release", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	const name, svc = "release", "application-service"
	s.fluxSync(ctx, url, name, "application-blue", "application-green")
	s.waitServes(ctx, svc, "blue", 3)
	blue := s.pods(ctx, "blue")
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="application-service"}[5s])`)
	waitCancel()

	release := func(image string) []string {
		return []string{"release", "--image", image, "--repo", url, "--path", appPath, "--reconcile", "kustomization/flux-system/" + name, "--wait-live",
			"--prometheus-url", prom.URL, "--max-error-rate", "1", "--window", "5s"}
	}
	commits := func() int { return git.CommitCount(t, "gitops", "main") }

	// The gate refuses: the deploy stays, nothing is promoted.
	_, errOut := s.must(ctx, 3, release("myapp:v2")...)
	if !strings.Contains(errOut, "error-rate gate refused") || !strings.Contains(errOut, "nothing promoted: blue keeps the traffic, and green runs myapp:v2") {
		t.Errorf("refused release:\n%s", errOut)
	}
	if n := commits(); n != 2 {
		t.Errorf("after a refused release: %d commits, want 2 (the seed and the deploy)", n)
	}
	s.waitServes(ctx, svc, "blue", 3)

	// The error rate falls: the re-run resumes without a second deploy.
	exp.SetRate(series("green", "500"), 0.5)
	exp.SetRate(series("green", "200"), 99.5)
	waitForRate(ctx, t, s, prom.URL, "green", 0)
	_, errOut = s.must(ctx, 0, release("myapp:v2")...)
	for _, want := range []string{"green runs myapp:v2 already (an earlier release deployed it): resuming", "application-service green passed rollout, capacity, error-rate", "live: Service " + s.ns + "/" + svc + " serves green, 3 ready endpoints"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("resumed release: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := commits(); n != 3 {
		t.Errorf("after the resumed release: %d commits, want 3", n)
	}
	if colors, err := s.endpointColors(ctx, svc); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("when release --wait-live returned, the Service served %v (%v)", colors, err)
	}
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("blue's pods were restarted by the deploy to green: %v, then %v", blue, got)
	}

	// Nothing to do for the live image.
	if _, errOut := s.must(ctx, 0, release("myapp:v2")...); !strings.Contains(errOut, "myapp:v2 is live on green already: nothing to do") || commits() != 3 {
		t.Errorf("release of the live image: %d commits\n%s", commits(), errOut)
	}

	// A release killed once its deploy is in Git resumes on the re-run.
	exp.SetRate(series("blue", "500"), 0.5)
	exp.SetRate(series("blue", "200"), 99.5)
	waitForRate(ctx, t, s, prom.URL, "blue", 0)
	killed := exec.CommandContext(ctx, s.bin, release("myapp:v3")...)
	killed.Env = append(os.Environ(), s.env...)
	var killedErr bytes.Buffer
	killed.Stderr = &killedErr
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "the deploy of myapp:v3 in Git", func(context.Context) (bool, error) { return commits() == 4, nil }); err != nil {
		t.Fatal(err)
	}
	killed.Process.Kill()
	killed.Wait()
	t.Logf("the killed release said:\n%s", killedErr.String())
	_, errOut = s.must(ctx, 0, release("myapp:v3")...)
	if !strings.Contains(errOut, "blue runs myapp:v3 already") || !strings.Contains(errOut, "serves blue, 3 ready endpoints") || commits() != 5 {
		t.Errorf("the release after a kill: %d commits\n%s", commits(), errOut)
	}
}

// waitForRate waits until the check command reads color's error rate
// under 1% from Prometheus (exit 0) — want 0 — or over it (want 3).
func waitForRate(ctx context.Context, t *testing.T, s *story, prom, color string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := loop.WaitFor(ctx, color+"'s error rate", func(ctx context.Context) (bool, error) {
		time.Sleep(500 * time.Millisecond) // a scrape is a second apart
		code, _, _ := s.run(ctx, "check", "application-service", "-n", s.ns, "--color", color, "--prometheus-url", prom, "--max-error-rate", "1", "--window", "5s")
		return code == want, nil
	}); err != nil {
		t.Fatal(err)
	}
}
