package loop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

const (
	app     = "my-application"
	appPath = "apps/my-application"
	label   = "version" // the seed example's color label
)

// story holds what the steps share.
type story struct {
	t          *testing.T
	bed        *loop.Cluster
	ns         string
	bin        string
	kubeconfig string
	env        []string
	start      time.Time
}

// run runs the bgrender binary and returns its exit code, stdout and stderr.
func (s *story) run(ctx context.Context, args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("bgrender %s: %v", args[0], err)
	}
	s.t.Logf("[%6.2fs] bgrender %s: exit %d\n%s%s", time.Since(s.start).Seconds(), strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// must runs bgrender and fails the test unless it exits with code.
func (s *story) must(ctx context.Context, code int, args ...string) (string, string) {
	s.t.Helper()
	got, out, errOut := s.run(ctx, args...)
	if got != code {
		s.t.Fatalf("bgrender %s: exit %d, want %d", args[0], got, code)
	}
	return out, errOut
}

// pods returns the names and UIDs of the running pods of a color.
func (s *story) pods(ctx context.Context, color string) map[string]string {
	s.t.Helper()
	return s.podUIDs(ctx, "app="+app+","+label+"="+color, true)
}

// podUIDs returns the names and UIDs of the pods that selector selects,
// leaving out those being deleted (and, with running, those not running).
func (s *story) podUIDs(ctx context.Context, selector string, running bool) map[string]string {
	s.t.Helper()
	list, err := s.bed.Clientset().CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && (!running || p.Status.Phase == corev1.PodRunning) {
			out[p.Name] = string(p.UID)
		}
	}
	return out
}

// endpointColors returns the colors of the ready endpoints of a Service
// (the pods are looked up by name among the story's namespace's).
func (s *story) endpointColors(ctx context.Context, svc string) ([]string, error) {
	names, err := s.bed.ReadyEndpoints(ctx, s.ns, svc)
	if err != nil {
		return nil, err
	}
	list, err := s.bed.Clientset().CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	colorOf := map[string]string{}
	for _, p := range list.Items {
		colorOf[p.Name] = p.Labels[label]
	}
	var colors []string
	for _, n := range names {
		colors = append(colors, colorOf[n])
	}
	slices.Sort(colors)
	return colors, nil
}

// waitServes waits until every ready endpoint of svc is of color, n of them.
func (s *story) waitServes(ctx context.Context, svc, color string, n int) {
	s.t.Helper()
	want := slices.Repeat([]string{color}, n)
	if err := loop.WaitFor(ctx, fmt.Sprintf("Service %s to serve %d %s pods", svc, n, color), func(ctx context.Context) (bool, error) {
		got, err := s.endpointColors(ctx, svc)
		return slices.Equal(got, want), err
	}); err != nil {
		s.t.Fatal(err)
	}
}

// endpointWatch records, from a watch on the active Service's
// EndpointSlices, the fewest ready endpoints it ever had once armed.
type endpointWatch struct {
	mu     sync.Mutex
	armed  bool
	min    int
	events int
	slices map[string]int // slice name → ready endpoints
}

func (w *endpointWatch) observe(ev watch.Event) {
	es, ok := ev.Object.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ready := 0
	for _, ep := range es.Endpoints {
		if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
			ready++
		}
	}
	if ev.Type == watch.Deleted {
		ready = 0
	}
	w.slices[es.Name] = ready
	total := 0
	for _, n := range w.slices {
		total += n
	}
	w.events++
	if w.armed && total < w.min {
		w.min = total
	}
}

func (w *endpointWatch) arm(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.min = true, n
}

func (w *endpointWatch) result() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.min, w.events
}

func (s *story) watchEndpoints(ctx context.Context) *endpointWatch {
	s.t.Helper()
	return s.watchServiceEndpoints(ctx, app)
}

// watchServiceEndpoints watches the EndpointSlices of Service svc.
func (s *story) watchServiceEndpoints(ctx context.Context, svc string) *endpointWatch {
	s.t.Helper()
	w := &endpointWatch{slices: map[string]int{}}
	wi, err := s.bed.Clientset().DiscoveryV1().EndpointSlices(s.ns).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		s.t.Fatal(err)
	}
	go func() {
		for ev := range wi.ResultChan() {
			w.observe(ev)
		}
	}()
	s.t.Cleanup(wi.Stop)
	return w
}

// TestArticleLifecycle is the article's story on the loop bed, with the
// managed layout: render into a GitOps repository on a real Gitea, Flux
// applies it, deploy --wait to the idle color, promote by a merged pull
// request with --wait-live, guard rolls back on a real Prometheus's error
// rate, scale-idle frees the idle color. Throughout, a watch on the active
// Service's EndpointSlices checks that it never had fewer ready endpoints
// than the live color's replicas minus its PDB allowance, and the live
// color's pods are never restarted by a deploy to the idle one.
//
// The pods run on the bed's data plane and clients send requests to the
// active Service's ClusterIP all along, through kube-proxy: some keep their
// connection alive, some open one per request. No request may fail, and
// once promote --wait-live (and guard's rollback) has returned and
// kube-proxy has caught up (kubeProxyLag), every request on a new
// connection is served by the color it made live.
func TestArticleLifecycle(t *testing.T) {
	bed := loop.Require(t, loop.Flux, loop.DataPlane)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "story", nil)

	// 1. The article's spec, in the test's namespace and tolerating the fake
	// nodes' taint, rendered into a managed folder of a Gitea repository.
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, dataPlaneSpec)

	gitea := giteatest.Start(t)
	url := gitea.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig, "BGRENDER_GIT_TOKEN=" + gitea.Token}

	// Flux, configured with the files users copy.
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url, "interval: 1m", "interval: 5s")); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"blue", "green"} {
		if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, app+"-"+c); err != nil {
			t.Fatal(err)
		}
	}
	s.waitServes(ctx, app, "blue", 3)
	t.Logf("[%6.2fs] Flux applied the render: both colors rolled out, the active Service serves blue", time.Since(s.start).Seconds())
	out, _ := s.must(ctx, 0, "status", app, "-n", s.ns, "-o", "json")
	var st struct {
		Live   string `json:"live"`
		Colors []struct {
			Color   string `json:"color"`
			Rollout string `json:"rollout"`
		} `json:"colors"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if st.Live != "blue" || len(st.Colors) != 2 || st.Colors[0].Rollout != "complete" || st.Colors[1].Rollout != "complete" {
		t.Fatalf("status: %s", out)
	}

	// From here on, the active Service must never have fewer ready
	// endpoints than the live color's 3 replicas minus its PDB's 1.
	ew := s.watchEndpoints(ctx)
	time.Sleep(200 * time.Millisecond) // the watch's initial events
	ew.arm(3)
	blue := s.pods(ctx, "blue")

	// Requests to the active Service, from now to the end.
	tr := startTraffic(t, ctx, bed, s.ns, app, 4*time.Minute)
	tr.waitServed(ctx, 20)
	var phases []phase

	// 2. deploy --wait: returns when green runs v2, fully available.
	repo := []string{"--repo", url, "--path", appPath}
	began := time.Now()
	s.must(ctx, 0, append([]string{"deploy", "--image", "myapp:v2", "--wait", "--rollout-timeout", "2m"}, repo...)...)
	phases = append(phases, phase{"deploy --wait", began, time.Now(), "blue", "blue"})
	rsList, err := bed.Clientset().AppsV1().ReplicaSets(s.ns).List(ctx, metav1.ListOptions{LabelSelector: label + "=green"})
	if err != nil {
		t.Fatal(err)
	}
	var v2Available bool
	for _, rs := range rsList.Items {
		if rs.Spec.Template.Spec.Containers[0].Image == "myapp:v2" && rs.Spec.Replicas != nil {
			v2Available = *rs.Spec.Replicas == 3 && rs.Status.AvailableReplicas == 3
			t.Logf("when deploy --wait returned: ReplicaSet %s of myapp:v2 has %d/%d available", rs.Name, rs.Status.AvailableReplicas, *rs.Spec.Replicas)
		}
	}
	if !v2Available {
		t.Fatalf("deploy --wait returned before the green ReplicaSet of myapp:v2 was fully available")
	}
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("the deploy to green restarted live blue pods: %v, then %v", blue, got)
	}

	// 3. promote as a pull request, merged by a reviewer; --wait-live
	// returns when the active Service's endpoints are all green. The pull
	// request's body shows the gates' readings and both colors, its head's
	// status goes pending → success once green is live, and --notify tells
	// a real receiver.
	hooks := newHookSink(t)
	go mergeWhenOpen(ctx, t, gitea, "gitops")
	began = time.Now()
	_, errOut := s.must(ctx, 0, append([]string{"promote", "--pull-request", "--forge", "gitea", "--wait-merge", "--poll-interval", "200ms", "--timeout", "2m",
		"--wait-live", "--reconcile", "kustomization/flux-system/" + app, "--require-rollout", "--commit-status", "--notify", hooks.URL + "/promote"}, repo...)...)
	promoted := time.Now()
	checkPromotionEvidence(t, gitea, s.ns, hooks.got("/promote"))
	phases = append(phases, phase{"promote --wait-live", began, promoted, "blue", "green"})
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+app+" serves green, 3 ready endpoints") {
		t.Errorf("promote --wait-live did not report green live:\n%s", errOut)
	}
	if colors, err := s.endpointColors(ctx, app); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("when promote --wait-live returned, the active Service served %v (%v)", colors, err)
	}
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("the promotion restarted blue pods: %v, then %v", blue, got)
	}

	// 4. guard on a real Prometheus: green turns 5xx-heavy, guard rolls
	// back, Flux applies it, the endpoints are blue again.
	exp := promtest.NewExporter()
	series := `http_requests_total{app_kubernetes_io_name="` + app + `",version="green",code="%s"}`
	exp.SetRate(fmt.Sprintf(series, "200"), 100)
	exp.SetRate(fmt.Sprintf(series, "500"), 0.1)
	prom := promtest.Start(t, exp)
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="`+app+`"}[5s])`)
	waitCancel()
	go func() {
		time.Sleep(3 * time.Second)
		exp.SetRate(fmt.Sprintf(series, "500"), 60)
	}()
	// Until the error rate rises, green is live for sure.
	guardStart := time.Now()
	_, errOut = s.must(ctx, 3, append([]string{"guard", app, "--prometheus-url", prom.URL, "--max-error-rate", "5", "--window", "5s",
		"--for", "90s", "--interval", "500ms", "--wait-live", "--reconcile", "kustomization/flux-system/" + app, "--notify", hooks.URL + "/guard"}, repo...)...)
	if evs := hooks.got("/guard"); len(evs) != 2 || evs[0].Event != "guard-breach" || evs[0].From != "green" || evs[1].Event != "rollback" || evs[1].To != "blue" {
		t.Errorf("guard's events: %+v", evs)
	} else {
		checkRollbackBreach(t, gitea, evs[0], 5)
	}
	rolledBack := time.Now()
	phases = append(phases, phase{"guard's rollback", guardStart, rolledBack, "green", "blue"})
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+app+" serves blue") {
		t.Errorf("guard --wait-live did not report blue live:\n%s", errOut)
	}
	s.waitServes(ctx, app, "blue", 3)
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("the rollback restarted blue pods: %v, then %v", blue, got)
	}

	// 5. scale-idle --replicas 0: green's pods go, blue's stay.
	began = time.Now()
	s.must(ctx, 0, append([]string{"scale-idle", "--replicas", "0"}, repo...)...)
	if err := bed.RequestReconcile(ctx, loop.GitRepositoryGVR, loop.FluxNamespace, "gitops"); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "green's pods to be gone", func(ctx context.Context) (bool, error) {
		list, err := bed.Clientset().CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: label + "=green"})
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("scale-idle restarted blue pods: %v, then %v", blue, got)
	}
	phases = append(phases, phase{"scale-idle --replicas 0", began, time.Now(), "blue", "blue"})
	time.Sleep(time.Second)
	end := time.Now()
	keep, fresh := tr.stop()
	s.judgeTraffic(keep, fresh, phases, end, promoted, guardStart.Add(3*time.Second), rolledBack)
	min, events := ew.result()
	t.Logf("[%6.2fs] the active Service's EndpointSlices: %d watch events, never fewer than %d ready endpoints", time.Since(s.start).Seconds(), events, min)
	if min < 2 {
		t.Errorf("the active Service had %d ready endpoints at one moment, fewer than 3 replicas minus the PDB's 1", min)
	}
}

// managedFolder writes the article's spec, in the story's namespace,
// tolerating the fake nodes' taint, plus extra (more spec fields), as a
// managed folder rendered by bgrender, and returns the repository's work
// tree.
func (s *story) managedFolder(ctx context.Context, root, extra string) string {
	s.t.Helper()
	seedSpec, err := os.ReadFile(filepath.Join(root, "examples", "seed", "app.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	text := strings.Replace(string(seedSpec), "  namespace: production\n", "  namespace: "+s.ns+"\n", 1) +
		"  tolerations:\n    - {key: " + loop.TaintKey + ", operator: Exists, effect: NoSchedule}\n" + extra
	work := s.t.TempDir()
	folder := filepath.Join(work, filepath.FromSlash(appPath))
	if err := os.MkdirAll(folder, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "bgrender.yaml"), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must(ctx, 0, "render", filepath.Join(folder, "bgrender.yaml"), "--output-dir", folder)
	return work
}

// mergeWhenOpen merges the first open pull request of repo, as a reviewer.
func mergeWhenOpen(ctx context.Context, t *testing.T, g *giteatest.Server, repo string) {
	for ctx.Err() == nil {
		var prs []struct {
			Number int `json:"number"`
		}
		g.API(t, http.MethodGet, "/repos/"+g.User+"/"+repo+"/pulls?state=open", nil, &prs)
		if len(prs) > 0 {
			g.Merge(t, repo, prs[0].Number)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestArticlePlainLayout is the shorter story on the article's own plain
// manifests (a Service whose selector says version: blue, Deployments
// application-blue and application-green, no kustomization.yaml: Flux
// generates one), served by the smart-HTTP Git server: Flux applies them,
// deploy --wait puts v2 on green, promote --wait-live moves traffic,
// rollback --wait-live moves it back; blue's pods are never restarted.
func TestArticlePlainLayout(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "plain", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.plainFolder(root, "plain", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}
	s.fluxSync(ctx, url, "plain", "application-blue", "application-green")
	const svc = "application-service"
	s.waitServes(ctx, svc, "blue", 3)
	blue := s.pods(ctx, "blue")

	repo := []string{"--repo", url, "--path", appPath}
	reconcile := []string{"--reconcile", "kustomization/flux-system/plain", "--wait-live"}
	// The article's folder has no preview Service for deploy --wait-live to
	// watch: refused before anything is committed; --wait watches the rollout.
	if _, errOut := s.must(ctx, 2, append(append([]string{"deploy", "--image", "myapp:v2"}, repo...), reconcile...)...); !strings.Contains(errOut, "no preview Service") {
		t.Errorf("deploy --wait-live without a preview Service:\n%s", errOut)
	}
	s.must(ctx, 0, append(append([]string{"deploy", "--image", "myapp:v2", "--wait"}, repo...), reconcile[:2]...)...)
	_, errOut := s.must(ctx, 0, append(append([]string{"promote"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+svc+" serves green, 3 ready endpoints") {
		t.Errorf("promote --wait-live:\n%s", errOut)
	}
	if colors, err := s.endpointColors(ctx, svc); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("when promote --wait-live returned, the Service served %v (%v)", colors, err)
	}
	out, errOut := s.must(ctx, 0, append(append([]string{"rollback", "-o", "json"}, repo...), reconcile...)...)
	if !strings.Contains(errOut, "live: Service "+s.ns+"/"+svc+" serves blue, 3 ready endpoints") {
		t.Errorf("rollback --wait-live:\n%s", errOut)
	}
	var res struct {
		Commit string `json:"commit"`
		Live   *struct {
			Service        string  `json:"service"`
			Color          string  `json:"color"`
			ReadyEndpoints int     `json:"readyEndpoints"`
			Seconds        float64 `json:"seconds"`
		} `json:"live"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Commit == "" || res.Live == nil || res.Live.Color != "blue" || res.Live.Service != svc || res.Live.ReadyEndpoints != 3 || res.Live.Seconds <= 0 {
		t.Errorf("rollback -o json --wait-live: one document with the commit and what went live, got %v:\n%s", err, out)
	}
	if got := s.pods(ctx, "blue"); !mapsEqual(got, blue) {
		t.Errorf("blue's pods were restarted: %v, then %v", blue, got)
	}
}

// plainFolder writes files of testdata/gitops/<dir> into a new work tree's
// app folder, in the story's namespace and tolerating the bed's taint, and
// returns the work tree.
func (s *story) plainFolder(root, dir string, files ...string) string {
	s.t.Helper()
	work := s.t.TempDir()
	folder := filepath.Join(work, filepath.FromSlash(appPath))
	if err := os.MkdirAll(folder, 0o755); err != nil {
		s.t.Fatal(err)
	}
	toleration := "      tolerations:\n        - {key: " + loop.TaintKey + ", operator: Exists, effect: NoSchedule}\n      containers:\n"
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, "testdata", "gitops", dir, f))
		if err != nil {
			s.t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "  namespace: production\n", "  namespace: "+s.ns+"\n")
		text = strings.Replace(text, "      containers:\n", toleration, 1)
		if err := os.WriteFile(filepath.Join(folder, f), []byte(text), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	return work
}

// fluxSync points Flux at the repository url, as the example's
// GitRepository and Kustomization both named name, and waits until the
// Deployments are available.
func (s *story) fluxSync(ctx context.Context, url, name string, deployments ...string) {
	s.t.Helper()
	if err := s.bed.ApplyYAML(ctx, loop.FluxExample(s.t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
		"  name: gitops\n", "  name: "+name+"\n")); err != nil {
		s.t.Fatal(err)
	}
	if err := s.bed.ApplyYAML(ctx, loop.FluxExample(s.t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: "+name+"\n",
		"    name: gitops\n", "    name: "+name+"\n")); err != nil {
		s.t.Fatal(err)
	}
	for _, d := range deployments {
		if _, err := s.bed.WaitDeploymentAvailable(ctx, s.ns, d); err != nil {
			s.t.Fatal(err)
		}
	}
}

// kubeProxyLag bounds how long after the EndpointSlices kube-proxy's rules
// follow: its --min-sync-period (1 s) and the time to load them.
const kubeProxyLag = 2 * time.Second

// judgeTraffic checks the lifecycle's requests: none failed; on new
// connections, green served every one in [promoted+kubeProxyLag,
// guardRise) and blue every one from rolledBack+kubeProxyLag on. It logs the table and what ClientIP session
// affinity (the article's Service has it) did across the flips.
func (s *story) judgeTraffic(keep, fresh []load.Record, phases []phase, end, promoted, guardRise, rolledBack time.Time) {
	t := s.t
	t.Helper()
	logPhases(t, keep, fresh, phases, end)
	for _, c := range []struct {
		name string
		recs []load.Record
	}{{"keep-alive", keep}, {"new-connection", fresh}} {
		all := load.Summarize(c.recs, time.Time{}, time.Time{})
		t.Logf("%s clients, whole story: %s", c.name, all)
		if all.Failed != 0 {
			t.Errorf("%s clients: %d of %d requests failed: %v; first ones: %+v", c.name, all.Failed, all.Requests, all.Errors, all.Samples)
		}
	}
	onNew := func(from, to time.Time) []load.Record {
		return load.Split(fresh, func(r load.Record) bool { return !r.Start.Before(from) && r.Start.Before(to) })
	}
	// --wait-live reads the EndpointSlices; kube-proxy follows them after
	// its own delay (measured here at about half a second: the lag is
	// logged), so the check starts kubeProxyLag after it returned.
	for _, c := range []struct {
		what     string
		returned time.Time
		to       time.Time
		old, new string
	}{{"promote --wait-live", promoted, guardRise, "blue", "green"}, {"guard's rollback", rolledBack, end, "green", "blue"}} {
		w := load.Summarize(fresh, c.returned.Add(-time.Minute), c.to)
		if last, ok := w.Last[c.old]; ok && last.After(c.returned) {
			t.Logf("after %s returned, new connections still reached %s for %s", c.what, c.old, last.Sub(c.returned).Round(time.Millisecond))
		}
		if got := colorsOf(onNew(c.returned.Add(kubeProxyLag), c.to)); !slices.Equal(got, []string{c.new}) {
			t.Errorf("requests on new connections from %s after %s returned were served by %v, want only %s", kubeProxyLag, c.what, got, c.new)
		}
	}
	kept := load.Split(keep, func(r load.Record) bool { return !r.Start.Before(promoted) && r.Start.Before(guardRise) })
	t.Logf("keep-alive clients after promote --wait-live returned, until guard: served by %v (connections opened before the flip stay with the pod they reached)", colorsOf(kept))
	t.Logf("ClientIP affinity, pods per new-connection client: before the promote %v; after promote --wait-live %v; after guard's rollback %v",
		podsByClient(fresh, time.Time{}, phases[1].start), podsByClient(fresh, promoted, guardRise), podsByClient(fresh, rolledBack, end))
}
