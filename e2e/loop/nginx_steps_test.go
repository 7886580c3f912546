package loop_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestSteppedPromotionNGINX: promote --steps 20,100 in the NGINX canary
// mode on the loop bed, with Flux applying each commit. The last step is a
// hand-over of three commits (the canary to 100%; the Services flipped with
// the canary kept on green; the canary back to 0% on blue). The first run
// is killed right after the flip's commit lands: status --repo explains the
// state (hand-over, no drift once applied) and the re-run ends it. A judge
// then replays every commit of the app folder: for each, whichever of the
// changed Service and canary Ingress Flux applies first, no request goes to
// a color that neither the state before nor the one after sends any to.
func TestSteppedPromotionNGINX(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "nginx-steps", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "  traffic:\n    weight: 0\n    nginx: {}\n")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "nginx-steps", app+"-blue", app+"-green")
	steps := []string{"promote", "--steps", "20,100", "--reconcile", "kustomization/flux-system/nginx-steps", "--live-timeout", "1m",
		"--repo", url, "--path", appPath}

	// The first run, killed once the flip is in Git.
	cmd := exec.CommandContext(ctx, s.bin, steps...)
	cmd.Env = append(cmd.Environ(), s.env...)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "the hand-over's flip in Git", func(ctx context.Context) (bool, error) {
		return strings.Contains(lastSubject(t, git), "the canary keeps 100% on green"), nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("the killed run:\n%s", errOut.String())

	// Once Flux has applied it, status explains the state and shows no
	// drift: live on green, the canary green 100%.
	if err := loop.WaitFor(ctx, "Flux to apply the flip", func(ctx context.Context) (bool, error) {
		svc, err := bed.Clientset().CoreV1().Services(s.ns).Get(ctx, app, metav1.GetOptions{})
		return err == nil && svc.Spec.Selector[label] == "green", nil
	}); err != nil {
		t.Fatal(err)
	}
	text, _ := s.must(ctx, 0, "status", app, "--repo", url, "--path", appPath)
	for _, want := range []string{
		"traffic: Ingress my-application-canary (NGINX canary): blue 0%, green 100%",
		"hand-over: a stepped promotion flipped the Services to green while the canary Ingress sends it 100%",
		"in sync",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	// Nothing else may happen in the middle of a hand-over.
	if code, _, e := s.run(ctx, "rollback", "--repo", url, "--path", appPath); code != 3 || !strings.Contains(e, "being handed over") {
		t.Errorf("rollback during the hand-over: exit %d\n%s", code, e)
	}

	// The re-run ends the hand-over.
	out, e := s.must(ctx, 0, append(steps, "-o", "json")...)
	if !strings.Contains(e, "ending the hand-over") {
		t.Errorf("the re-run does not say it resumes:\n%s", e)
	}
	var res struct {
		Steps []struct {
			Weight int    `json:"weight"`
			Phase  string `json:"phase"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Steps) != 1 || res.Steps[0].Phase != "end" {
		t.Errorf("-o json: %v\n%s", err, out)
	}
	s.waitServes(ctx, app, "green", 3)
	if err := loop.WaitFor(ctx, "the canary back to 0% on blue", func(ctx context.Context) (bool, error) {
		ing, err := bed.Clientset().NetworkingV1().Ingresses(s.ns).Get(ctx, app+"-canary", metav1.GetOptions{})
		return err == nil && ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] == "0" &&
			ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name == app+"-blue", nil
	}); err != nil {
		t.Fatal(err)
	}
	spec := gitShow(t, git, "HEAD", "bgrender.yaml")
	if strings.Contains(spec, "canaryColor") || !strings.Contains(spec, "weight: 0") || !strings.Contains(spec, "active: green") {
		t.Errorf("bgrender.yaml after the promotion:\n%s", spec)
	}

	// The judge: every commit of the folder, both apply orders.
	log, err := exec.Command("git", "-C", git.RepoDir("gitops"), "log", "--reverse", "--format=%H %s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 5 { // seed, 20%, canary 100%, flip, end
		t.Errorf("%d commits, want 5:\n%s", len(lines), log)
	}
	for i := 1; i < len(lines); i++ {
		before, after := strings.Fields(lines[i-1])[0], strings.Fields(lines[i])[0]
		b, a := routing(t, git, before), routing(t, git, after)
		intended := map[string]bool{}
		for _, st := range []routingState{b, a} {
			for c, w := range st.shares() {
				intended[c] = intended[c] || w > 0
			}
		}
		for _, mixed := range []routingState{{b.live, a.canaryTo, a.canaryWeight}, {a.live, b.canaryTo, b.canaryWeight}} {
			for c, w := range mixed.shares() {
				if w > 0 && !intended[c] {
					t.Errorf("commit %q: applied in one order, %d%% goes to %s, which neither the state before (%v) nor after (%v) sends any to",
						lines[i][41:], w, c, b.shares(), a.shares())
				}
			}
		}
	}
}

// routingState is where requests go: the main Ingress to the active
// Service, which selects live; the canary canaryWeight percent to the
// per-color Service of canaryTo.
type routingState struct {
	live, canaryTo string
	canaryWeight   int
}

func (r routingState) shares() map[string]int {
	out := map[string]int{"blue": 0, "green": 0}
	out[r.canaryTo] += r.canaryWeight
	out[r.live] += 100 - r.canaryWeight
	return out
}

// routing reads the active Service's color and the canary Ingress of the
// app folder at a commit.
func routing(t *testing.T, git *gittest.Server, commit string) routingState {
	t.Helper()
	var svc struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(gitShow(t, git, commit, "service-my-application.yaml")), &svc); err != nil {
		t.Fatal(err)
	}
	var ing struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Rules []struct {
				HTTP struct {
					Paths []struct {
						Backend struct {
							Service struct {
								Name string `json:"name"`
							} `json:"service"`
						} `json:"backend"`
					} `json:"paths"`
				} `json:"http"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(gitShow(t, git, commit, "ingress-my-application-canary.yaml")), &ing); err != nil {
		t.Fatal(err)
	}
	w := 0
	if err := json.Unmarshal([]byte(ing.Metadata.Annotations["nginx.ingress.kubernetes.io/canary-weight"]), &w); err != nil {
		t.Fatal(err)
	}
	return routingState{live: svc.Spec.Selector[label], canaryTo: strings.TrimPrefix(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name, app+"-"), canaryWeight: w}
}

func gitShow(t *testing.T, git *gittest.Server, commit, file string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", git.RepoDir("gitops"), "show", commit+":"+appPath+"/"+file).Output()
	if err != nil {
		t.Fatalf("git show %s:%s: %v", commit, file, err)
	}
	return string(out)
}

func lastSubject(t *testing.T, git *gittest.Server) string {
	t.Helper()
	out, err := exec.Command("git", "-C", git.RepoDir("gitops"), "log", "-1", "--format=%s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestSteppedPromotionPlainCanary: promote --steps 25,100 on the article's
// plain manifests with a canary Ingress to the preview Service, on the loop
// bed with Flux. The last step hands over in four commits, each one object;
// the judge replays every commit in every apply order of the live Service,
// the preview Service and the canary Ingress.
func TestSteppedPromotionPlainCanary(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "plain-steps", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain-canary", "service.yaml", "service-preview.yaml", "ingress.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "plain-steps", "application-blue", "application-green")
	out, errOut := s.must(ctx, 0, "promote", "--steps", "25,100", "--reconcile", "kustomization/flux-system/plain-steps", "--live-timeout", "1m",
		"--repo", url, "--path", appPath, "-o", "json")
	var res struct {
		Steps []struct {
			Phase string `json:"phase"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Steps) != 5 {
		t.Fatalf("-o json: %v\n%s\n%s", err, out, errOut)
	}
	s.waitServes(ctx, "application-service", "green", 3)
	s.waitServes(ctx, "application-service-preview", "blue", 3)
	// status reads the plain canary by the name Git gives it.
	text, _ := s.must(ctx, 0, "status", "application-service", "--repo", url, "--path", appPath)
	for _, want := range []string{"traffic: Ingress application-ingress-canary (NGINX canary): blue 0%, green 100%", "in sync"} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	// A re-run with --to green does nothing: the promotion is over.
	if _, e := s.must(ctx, 0, "promote", "--steps", "25,100", "--to", "green", "--repo", url, "--path", appPath); !strings.Contains(e, "nothing to do") {
		t.Errorf("the re-run after the end:\n%s", e)
	}

	log, err := exec.Command("git", "-C", git.RepoDir("gitops"), "log", "--reverse", "--format=%H %s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 6 { // seed, 25%, canary 100%, flip, canary 0%, preview
		t.Errorf("%d commits, want 6:\n%s", len(lines), log)
	}
	read := func(commit string) plainRouting {
		return plainRouting{
			live:    selectorColor(t, gitShow(t, git, commit, "service.yaml")),
			preview: selectorColor(t, gitShow(t, git, commit, "service-preview.yaml")),
			weight:  canaryWeight(t, gitShow(t, git, commit, "ingress.yaml")),
		}
	}
	for i := 1; i < len(lines); i++ {
		b, a := read(strings.Fields(lines[i-1])[0]), read(strings.Fields(lines[i])[0])
		intended := map[string]bool{}
		for _, st := range []plainRouting{b, a} {
			for c, w := range st.shares() {
				intended[c] = intended[c] || w > 0
			}
		}
		// Every mix of the three objects, before or after.
		for mask := 0; mask < 8; mask++ {
			m := b
			if mask&1 != 0 {
				m.live = a.live
			}
			if mask&2 != 0 {
				m.preview = a.preview
			}
			if mask&4 != 0 {
				m.weight = a.weight
			}
			for c, w := range m.shares() {
				if w > 0 && !intended[c] {
					t.Errorf("commit %q: applied in one order, %d%% goes to %s, which neither %v nor %v sends any to", lines[i][41:], w, c, b.shares(), a.shares())
				}
			}
		}
	}
}

// plainRouting is where the article's layout sends requests: the main
// Ingress to the live Service, the canary weight percent to the preview
// Service.
type plainRouting struct {
	live, preview string
	weight        int
}

func (r plainRouting) shares() map[string]int {
	out := map[string]int{"blue": 0, "green": 0}
	out[r.preview] += r.weight
	out[r.live] += 100 - r.weight
	return out
}

func selectorColor(t *testing.T, doc string) string {
	t.Helper()
	var svc struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(doc), &svc); err != nil {
		t.Fatal(err)
	}
	return svc.Spec.Selector[label]
}

// canaryWeight reads the canary-weight of the canary Ingress, the second
// document of the plain folder's ingress.yaml.
func canaryWeight(t *testing.T, file string) int {
	t.Helper()
	docs := strings.Split(file, "\n---\n")
	var ing struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(docs[len(docs)-1]), &ing); err != nil {
		t.Fatal(err)
	}
	w := 0
	if err := json.Unmarshal([]byte(ing.Metadata.Annotations["nginx.ingress.kubernetes.io/canary-weight"]), &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSteppedPromotionPullRequests: promote --steps --pull-request
// --wait-merge opens one pull request per commit (each step, and each
// commit of the hand-over), waits for a reviewer to merge it before the
// cluster wait and the next one; Flux applies from Gitea. With a reviewer
// merging as they come, the promotion ends live on green with the canary
// back at 0% on blue, after four merged pull requests.
func TestSteppedPromotionPullRequests(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "pr-steps", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "  traffic:\n    weight: 0\n    nginx: {}\n")
	gitea := giteatest.Start(t)
	url := gitea.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig, "BGRENDER_GIT_TOKEN=" + gitea.Token}
	s.fluxSync(ctx, url, "pr-steps", app+"-blue", app+"-green")
	// The reviewer merges every pull request as it opens, and remembers
	// their titles.
	merged := make(chan string, 16)
	reviewCtx, stopReview := context.WithCancel(ctx)
	defer stopReview()
	go func() {
		seen := map[int]bool{} // Gitea may list a merged pull request as open for a moment
		for reviewCtx.Err() == nil {
			var prs []struct {
				Number int    `json:"number"`
				Title  string `json:"title"`
			}
			gitea.API(t, "GET", "/repos/"+gitea.User+"/gitops/pulls?state=open", nil, &prs)
			for _, pr := range prs {
				if seen[pr.Number] {
					continue
				}
				seen[pr.Number] = true
				gitea.Merge(t, "gitops", pr.Number)
				merged <- pr.Title
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	s.must(ctx, 0, "promote", "--steps", "50,100", "--pull-request", "--forge", "gitea", "--wait-merge", "--poll-interval", "200ms", "--timeout", "1m",
		"--reconcile", "kustomization/flux-system/pr-steps", "--live-timeout", "1m", "--repo", url, "--path", appPath)
	stopReview()
	close(merged)
	var titles []string
	for title := range merged {
		titles = append(titles, title)
	}
	if len(titles) != 4 {
		t.Errorf("%d pull requests merged, want 4 (50%%, the canary to 100%%, the flip, the end): %q", len(titles), titles)
	}
	s.waitServes(ctx, app, "green", 3)
	ing, err := bed.Clientset().NetworkingV1().Ingresses(s.ns).Get(ctx, app+"-canary", metav1.GetOptions{})
	if err != nil || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] != "0" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != app+"-blue" {
		t.Errorf("the canary after the promotion: %v %v", err, ing)
	}
}

// TestSteppedPromotionPlainRoute: promote --steps on plain manifests that
// route through the Gateway API (an HTTPRoute to a Service of each color),
// on the loop bed with Flux and the test playing the Gateway controller:
// each step's weights go live and are accepted, the last flips the live
// Service with the route on green alone; status --repo reads the route by
// the name Git gives it and finds no drift.
func TestSteppedPromotionPlainRoute(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	gatewayCRDs(t, ctx, bed)
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "plain-route", nil)
	go actAsGateway(ctx, bed, s.ns)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain-route", "service.yaml", "services-per-color.yaml", "httproute.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "plain-route", "application-blue", "application-green")
	_, errOut := s.must(ctx, 0, "promote", "--steps", "30,100", "--to", "green", "--reconcile", "kustomization/flux-system/plain-route", "--live-timeout", "1m",
		"--repo", url, "--path", appPath)
	if !strings.Contains(errOut, "step live: weights application-blue=70 application-green=30") {
		t.Errorf("the 30%% step did not go live:\n%s", errOut)
	}
	s.waitServes(ctx, "application-service", "green", 3)
	if w := routeWeights(ctx, bed, s.ns, "application"); w["application-green"] != 100 || w["application-blue"] != 0 {
		t.Errorf("after the promotion the route says %v", w)
	}
	text, _ := s.must(ctx, 0, "status", "application-service", "--repo", url, "--path", appPath)
	for _, want := range []string{"traffic: HTTPRoute application: blue 0%, green 100% (public: accepted)", "in sync"} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
}
