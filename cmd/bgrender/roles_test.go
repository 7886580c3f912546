package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// TestGitopsPlainRoles: plain manifests whose Services are named as the
// article's Rollout names them (application-active, application-preview):
// promote and rollback flip both Services in one commit, shift edits the
// canary that sends to the preview Service, and promote --steps hands over
// through it.
func TestGitopsPlainRoles(t *testing.T) {
	r := newGitopsRepo(t, "plain-roles", 0)

	r.mustRun(t, "promote")
	golden(t, "gitops/plain-roles-promote.diff", []byte(r.lastDiff(t)))
	if got := strings.Join(r.changedFiles(t), " "); got != appPath+"/service-active.yaml "+appPath+"/service-preview.yaml" {
		t.Errorf("promote changed %s", got)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-App": "application-active", "Bgrender-From": "blue", "Bgrender-To": "green"})
	if !strings.Contains(r.file(t, "service-preview.yaml"), "version: blue") {
		t.Errorf("the preview Service does not select blue:\n%s", r.file(t, "service-preview.yaml"))
	}

	r.mustRun(t, "rollback")
	wantLines(t, r.lastDiff(t),
		"-    bgrender.io/active-color: green", "-    bgrender.io/previous-color: blue",
		"+    bgrender.io/active-color: blue", "+    bgrender.io/previous-color: green",
		"-    version: green", "+    version: blue",
		"-    version: blue", "+    version: green")

	r.mustRun(t, "shift", "--weight", "10")
	if got := r.changedFiles(t); len(got) != 1 || got[0] != appPath+"/ingress.yaml" {
		t.Errorf("shift changed %v", got)
	}
	r.mustRun(t, "shift", "--weight", "0")

	// The hand-over of promote --steps goes through the preview Service:
	// its last commit moves that Service on to the new idle color.
	res := r.mustRun(t, "promote", "--steps", "50,100", "--dry-run", "-o", "json")
	var got struct {
		Steps []struct {
			Phase  string `json:"phase"`
			Result struct {
				Diff string `json:"diff"`
			} `json:"result"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if n := len(got.Steps); n != 5 || got.Steps[4].Phase != "preview" || !strings.Contains(got.Steps[4].Result.Diff, "/service-preview.yaml") {
		t.Fatalf("promote --steps: %d commits:\n%s", n, res.stdout)
	}
}

// TestGitopsPlainRolesServicePreview: the folder, the article's
// application-service with an application-preview beside it: promote
// flips both (before, the preview Service stayed on the new live color). A
// third Service of the same pods makes the preview unclear: exit 2 naming
// them, nothing committed, until --preview-service says which.
func TestGitopsPlainRolesServicePreview(t *testing.T) {
	r := newGitopsRepo(t, "plain", 0)
	svc := func(name, color string) string {
		return "\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: production\nspec:\n  selector:\n    app: my-application\n    version: " + color + "\n  ports:\n    - port: 80\n      targetPort: 8080\n"
	}
	data := r.file(t, "service.yaml")
	r.handCommit(t, "service.yaml", data, data+svc("application-preview", "green"))
	r.mustRun(t, "promote")
	wantLines(t, r.lastDiff(t),
		"+  annotations:", "+    bgrender.io/active-color: green", "+    bgrender.io/previous-color: blue",
		"-    version: blue # Switch to 'green' for deployment", "+    version: green # Switch to 'green' for deployment",
		"-    version: green", "+    version: blue")
	r.checkTrailers(t, map[string]string{"Bgrender-App": "application-service", "Bgrender-To": "green"})

	data = r.file(t, "service.yaml")
	r.handCommit(t, "service.yaml", data, data+svc("application-test", "blue"))
	before := r.commits(t)
	res := r.run(t, "promote", "--to", "blue")
	if res.code != exitcode.Invalid || res.stdout != "" || !strings.Contains(res.stderr, "application-preview (service.yaml), application-test (service.yaml)") ||
		!strings.Contains(res.stderr, "--preview-service") || r.commits(t) != before {
		t.Fatalf("two preview Services: exit %d, stdout %q\n%s", res.code, res.stdout, res.stderr)
	}
	r.mustRun(t, "promote", "--to", "blue", "--preview-service", "application-test")
	wantLines(t, r.lastDiff(t),
		"-    bgrender.io/active-color: green", "-    bgrender.io/previous-color: blue",
		"+    bgrender.io/active-color: blue", "+    bgrender.io/previous-color: green",
		"-    version: green # Switch to 'green' for deployment", "+    version: blue # Switch to 'green' for deployment",
		"-    version: blue", "+    version: green")
}

// TestPlainRolesGatesAndStatus: the gates and status read the preview
// Service that the folder in Git names, not <app>-preview: promote without
// --to runs the rollout gate on the color application-preview selects in
// the cluster, and status --repo shows that Service as the preview.
func TestPlainRolesGatesAndStatus(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "cli-plain-roles", nil)
	createPlainRoles(t, ctx, srv, ns)
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "application-green", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	r := newGitopsRepoIn(t, "plain-roles", ns)

	res := r.run(t, "status", "application-active", "--kubeconfig", kubeconfig, "-o", "json")
	var st struct {
		Services []struct {
			Name, Role, Selects string
		} `json:"services"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &st) != nil || len(st.Services) != 2 ||
		st.Services[1].Name != "application-preview" || st.Services[1].Selects != "green" {
		t.Fatalf("status --repo: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	res = r.run(t, "promote", "--require-rollout", "--rollout-timeout", "5s", "--kubeconfig", kubeconfig)
	expectRun(t, "promote with the rollout gate", res, 0, "promote application-active: switch traffic from blue to green; committed",
		"rollout: waiting for deployment "+ns+"/application-green", "application-active green passed rollout")
	if got := strings.Join(r.changedFiles(t), " "); got != appPath+"/service-active.yaml "+appPath+"/service-preview.yaml" {
		t.Errorf("promote changed %s", got)
	}
}

// createPlainRoles creates the objects of testdata/gitops/plain-roles (but
// its Ingresses) in namespace ns of the API server.
func createPlainRoles(t *testing.T, ctx context.Context, srv *kubetest.Server, ns string) {
	t.Helper()
	for _, f := range []string{"service-active.yaml", "service-preview.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gitops", "plain-roles", f))
		if err != nil {
			t.Fatal(err)
		}
		var obj unstructured.Unstructured
		if err := sigsyaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatal(err)
		}
		obj.SetNamespace(ns)
		gvr := cluster.Deployments
		if obj.GetKind() == "Service" {
			gvr = cluster.Services
		}
		if _, err := srv.Dynamic().Resource(gvr).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
