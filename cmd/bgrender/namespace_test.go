package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// seedNamespace is the namespace the app folders of newGitopsRepo name
// (the seed example's, and testdata/gitops/plain's).
const seedNamespace = "production"

// newGitopsRepoIn is newGitopsRepo with the app folder in namespace ns
// instead (none when ns is empty): the managed spec's metadata.namespace
// (re-rendered), or the plain manifests' metadata.namespace.
func newGitopsRepoIn(t *testing.T, layout, ns string) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	writeLayoutIn(t, filepath.Join(seed, filepath.FromSlash(appPath)), layout, ns)
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}

// writeLayoutIn writes an app folder of the layout into app, its
// manifests in namespace ns.
func writeLayoutIn(t *testing.T, app, layout, ns string) {
	t.Helper()
	switch layout {
	case "managed":
		writeManaged(t, app, "my-application")
		setNamespace(t, app, promote.SpecFile, ns)
		data, err := os.ReadFile(filepath.Join(app, promote.SpecFile))
		if err != nil {
			t.Fatal(err)
		}
		apps, err := spec.Load(promote.SpecFile, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := render.WriteDir(app, render.Render(apps)); err != nil {
			t.Fatal(err)
		}
	case "plain":
		copyDir(t, "../../testdata/gitops/plain", app)
		for _, f := range []string{"service.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
			setNamespace(t, app, f, ns)
		}
	case "plain-roles":
		copyDir(t, "../../testdata/gitops/plain-roles", app)
		for _, f := range []string{"service-active.yaml", "service-preview.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
			setNamespace(t, app, f, ns)
		}
	default:
		t.Fatalf("unknown layout %s", layout)
	}
}

// setNamespace rewrites the metadata.namespace line of file in dir to ns,
// or removes it when ns is empty.
func setNamespace(t *testing.T, dir, file, ns string) {
	t.Helper()
	p := filepath.Join(dir, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const line = "  namespace: " + seedNamespace + "\n"
	if !strings.Contains(string(data), line) {
		t.Fatalf("%s has no line %q", file, line)
	}
	repl := ""
	if ns != "" {
		repl = "  namespace: " + ns + "\n"
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), line, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGatesLookInTheFolderNamespace: with a kubeconfig whose namespace is
// "default" and no -n, promote --require-rollout, deploy --wait, guard
// and status --repo find the app in the namespace its folder names — the
// managed spec's metadata.namespace, or the plain manifests' — against a
// real API server, Git server and Prometheus. A folder that names no
// namespace keeps the kubeconfig's.
func TestGatesLookInTheFolderNamespace(t *testing.T) {
	srv := apiServer(t)
	prom := promtest.Start(t, promtest.NewExporter())
	for _, layout := range []string{"managed", "plain"} {
		t.Run(layout, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			kubeconfig, ns := clusterAppForGitops(t, ctx, srv, "cli-folder-ns-"+layout)
			if ns == "default" || !strings.Contains(string(srv.Kubeconfig()), "namespace: default") {
				t.Fatalf("the test needs a kubeconfig in namespace default and the app elsewhere, not in %s", ns)
			}
			for _, c := range []string{"blue", "green"} {
				if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "my-application-"+c, apptest.RolledOut); err != nil {
					t.Fatal(err)
				}
			}
			cl := []string{"--kubeconfig", kubeconfig}
			gateApp := cl
			if layout == "plain" {
				// The cluster runs the managed render (my-application);
				// the plain folder's live Service, which the gates would
				// look for, is application-service.
				gateApp = append(cl[:len(cl):len(cl)], "--app", "my-application")
			}

			// Today's behaviour where the folder names no namespace.
			none := newGitopsRepoIn(t, layout, "")
			res := none.run(t, append([]string{"promote", "--require-rollout", "--rollout-timeout", "5s"}, gateApp...)...)
			expectRun(t, "promote, folder without a namespace", res, exitcode.Failure, "", `not found in namespace "default"`, "; nothing committed")

			r := newGitopsRepoIn(t, layout, ns)
			before := r.commits(t)
			applied := make(chan error, 1)
			go func() {
				applied <- applyImage(ctx, srv, r.srv.RepoDir(r.name), ns, "my-application-green", "myapp:v3", before)
			}()
			res = r.run(t, append([]string{"deploy", "--image", "myapp:v3", "--color", "green", "--wait", "--rollout-timeout", "30s"}, gateApp...)...)
			if err := <-applied; err != nil {
				t.Fatal(err)
			}
			expectRun(t, "deploy --wait", res, 0, "run myapp:v3 on green; committed", "bgrender deploy: my-application green passed rollout")

			res = r.run(t, append([]string{"promote", "--require-rollout", "--rollout-timeout", "10s"}, gateApp...)...)
			expectRun(t, "promote --require-rollout", res, 0, "switch traffic from blue to green; committed", "bgrender promote: my-application green passed rollout")

			res = r.run(t, append([]string{"status", "my-application", "-o", "json"}, cl...)...)
			expectRun(t, "status --repo", res, 0, `"namespace": "`+ns+`"`)
			if !strings.Contains(res.stdout, "Git routes traffic to green, the cluster to blue") {
				t.Errorf("status --repo shows no drift from Git:\n%s", res.stdout)
			}

			// The cluster still routes to blue (nothing applied the promote):
			// guard watches blue and, with no breach, commits nothing.
			n := r.commits(t)
			res = r.run(t, append([]string{"guard", "my-application", "--prometheus-url", prom.URL, "--max-error-rate", "5",
				"--query", "0 * vector(1)", "--for", "1s", "--interval", "300ms"}, cl...)...)
			expectRun(t, "guard", res, 0, "my-application: blue held for 1s")
			if r.commits(t) != n {
				t.Error("guard without a breach committed")
			}

			// -n that agrees with the folder is fine.
			res = r.run(t, append([]string{"status", "my-application", "-n", ns}, cl...)...)
			expectRun(t, "status --repo -n agreeing", res, 0, "my-application")
		})
	}
}

// TestNamespaceFlagDisagreesWithFolder: a -n other than the namespace the
// app folder names is bad usage (exit 2) naming both namespaces and the
// folder, found before anything is committed, pushed or read from the
// cluster (the kubeconfig points at nothing); so are the manifests of a
// plain folder that name two namespaces.
func TestNamespaceFlagDisagreesWithFolder(t *testing.T) {
	kubeconfig := kubetest.WriteKubeconfigFor(t, "https://127.0.0.1:1", "default", "")
	commands := map[string][]string{
		"promote":      {"promote", "--require-rollout"},
		"deploy":       {"deploy", "--image", "myapp:v9", "--wait"},
		"guard":        {"guard", "my-application", "--prometheus-url", "http://127.0.0.1:1", "--max-error-rate", "5"},
		"status":       {"status", "my-application"},
		"promote json": {"promote", "--health-url", "http://127.0.0.1:1/h", "-o", "json"},
	}
	for _, layout := range []string{"managed", "plain"} {
		for name, args := range commands {
			t.Run(layout+"/"+name, func(t *testing.T) {
				r := newGitopsRepoIn(t, layout, seedNamespace)
				head := r.srv.Head(t, r.name, "main")
				res := r.run(t, append(args, "--kubeconfig", kubeconfig, "-n", "staging")...)
				expectRun(t, name+" -n staging", res, exitcode.Invalid, "",
					"-n staging disagrees with the app folder "+appPath+" in "+r.url+", whose namespace is production")
				if res.stdout != "" {
					t.Errorf("stdout: %q", res.stdout)
				}
				if got := r.srv.Head(t, r.name, "main"); got != head || r.srv.Pushes() != 0 {
					t.Errorf("main moved from %s to %s, %d pushes", head, got, r.srv.Pushes())
				}
			})
		}
	}

	t.Run("plain manifests disagree", func(t *testing.T) {
		srv := gittest.NewServer(t, gittest.WithToken(gitToken))
		seed := t.TempDir()
		app := filepath.Join(seed, filepath.FromSlash(appPath))
		copyDir(t, "../../testdata/gitops/plain", app)
		setNamespace(t, app, "deployment-green.yaml", "staging")
		t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
		r := &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
		head := r.srv.Head(t, r.name, "main")
		for name, args := range commands {
			res := r.run(t, append(args, "--kubeconfig", kubeconfig)...)
			expectRun(t, name, res, exitcode.Invalid, "",
				"read "+appPath+" in "+r.url+": the app's manifests name different namespaces: production (service.yaml: Service application-service, deployment-blue.yaml: Deployment application-blue) and staging (deployment-green.yaml: Deployment application-green)")
		}
		if got := r.srv.Head(t, r.name, "main"); got != head || r.srv.Pushes() != 0 {
			t.Errorf("main moved from %s to %s, %d pushes", head, got, r.srv.Pushes())
		}
		// Without a gate, promote needs no namespace: it commits.
		r.mustRun(t, "promote")
	})
}
