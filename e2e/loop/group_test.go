package loop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestGroupFlip: two apps released as one. A frontend whose Services are
// named as the article's Rollout names them (frontend-active,
// frontend-preview) and an API in the article's plain layout sit in one
// repository, each applied by its own Flux Kustomization. promote --path
// frontend --path api is one commit; Flux applies it and both apps' live
// Services move to green (the frontend's preview Service to blue), and
// --wait-live reports each. rollback takes both back, again in one commit.
func TestGroupFlip(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, "group", nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	s.groupApp(root, work, "plain-roles", "frontend", "service-active.yaml", "service-preview.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	s.groupApp(root, work, "plain", "api", "service.yaml", "deployment-blue.yaml", "deployment-green.yaml")
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", work)
	s.env = []string{"KUBECONFIG=" + s.kubeconfig}

	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url,
		"  name: gitops\n", "  name: group\n")); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"frontend", "api"} {
		if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: group-"+a+"\n",
			"    name: gitops\n", "    name: group\n", "path: ./apps/my-application", "path: ./apps/"+a)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"blue", "green"} {
			if _, err := bed.WaitDeploymentAvailable(ctx, s.ns, a+"-"+c); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.groupServes(ctx, "frontend-active", "blue")
	s.groupServes(ctx, "frontend-preview", "green")
	s.groupServes(ctx, "api-service", "blue")

	group := []string{"--repo", url, "--path", "apps/frontend", "--path", "apps/api",
		"--reconcile", "kustomization/flux-system/group-frontend", "--reconcile", "kustomization/flux-system/group-api", "--wait-live", "-o", "json"}
	before := git.CommitCount(t, "gitops", "main")
	out, _ := s.must(ctx, 0, append([]string{"promote"}, group...)...)
	if n := git.CommitCount(t, "gitops", "main"); n != before+1 {
		t.Fatalf("%d commits, want %d: one for both apps", n, before+1)
	}
	checkGroupLive(t, out, "green", map[string]string{"frontend-active": "apps/frontend", "api-service": "apps/api"})
	// --wait-live returned: both live Services serve green, and the
	// frontend's preview Service was flipped with its live one.
	for svc, want := range map[string]string{"frontend-active": "green", "api-service": "green", "frontend-preview": "blue"} {
		if got, err := s.endpointColors(ctx, svc); err != nil || !slices.Equal(got, []string{want, want, want}) {
			t.Errorf("after promote --wait-live, Service %s serves %v (%v), want 3 %s", svc, got, err, want)
		}
	}

	out, _ = s.must(ctx, 0, append([]string{"rollback"}, group...)...)
	if n := git.CommitCount(t, "gitops", "main"); n != before+2 {
		t.Fatalf("%d commits, want %d", n, before+2)
	}
	checkGroupLive(t, out, "blue", map[string]string{"frontend-active": "apps/frontend", "api-service": "apps/api"})
	s.groupServes(ctx, "frontend-preview", "green")
}

// groupApp writes the files of testdata/gitops/<dir> as the app name in
// the work tree's apps/<name>: its objects renamed from application-* to
// <name>-*, its pods labeled app: <name>, in the story's namespace,
// tolerating the bed's taint.
func (s *story) groupApp(root, work, dir, name string, files ...string) {
	s.t.Helper()
	folder := filepath.Join(work, "apps", name)
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
		text = strings.ReplaceAll(text, "name: application-", "name: "+name+"-")
		text = strings.ReplaceAll(text, "app: my-application", "app: "+name)
		text = strings.Replace(text, "      containers:\n", toleration, 1)
		if err := os.WriteFile(filepath.Join(folder, f), []byte(text), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}

// groupServes waits until Service svc serves 3 ready pods of color.
func (s *story) groupServes(ctx context.Context, svc, color string) {
	s.t.Helper()
	want := []string{color, color, color}
	if err := loop.WaitFor(ctx, fmt.Sprintf("Service %s to serve 3 %s pods", svc, color), func(ctx context.Context) (bool, error) {
		got, err := s.endpointColors(ctx, svc)
		return slices.Equal(got, want), err
	}); err != nil {
		s.t.Fatal(err)
	}
}

// checkGroupLive reads a group's -o json: one commit, and for each app
// (its live Service → its folder) what --wait-live saw go live.
func checkGroupLive(t *testing.T, out, color string, apps map[string]string) {
	t.Helper()
	var res struct {
		Commit string `json:"commit"`
		Apps   []struct {
			App, Path, To string
			Live          *struct {
				Service        string `json:"service"`
				Color          string `json:"color"`
				ReadyEndpoints int    `json:"readyEndpoints"`
			} `json:"live"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Commit == "" || len(res.Apps) != len(apps) {
		t.Fatalf("-o json: one commit and %d apps, got %v:\n%s", len(apps), err, out)
	}
	for _, a := range res.Apps {
		if apps[a.App] != a.Path || a.To != color || a.Live == nil || a.Live.Service != a.App || a.Live.Color != color || a.Live.ReadyEndpoints != 3 {
			t.Errorf("app %s in %s: to %s, live %+v; want %s live with 3 ready endpoints", a.App, a.Path, a.To, a.Live, color)
		}
	}
}
