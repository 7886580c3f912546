package promote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
	"github.com/bgrender/bgrender/spec"
)

// overlayRepo serves a copy of testdata/gitops/overlays, changed by edit
// (nil: as it is), as the repository "gitops".
func overlayRepo(t *testing.T, edit func(dir string)) (*gittest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	src := "../testdata/gitops/overlays"
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	srv := gittest.NewServer(t)
	return srv, srv.CreateRepo(t, "gitops", dir)
}

func overlayTarget(t *testing.T, url, path string) Target {
	t.Helper()
	repo, err := gitops.OpenRepo(url, gitops.RepoOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return Target{Repo: repo, Path: path}
}

// kustomizeBuild clones the repository and runs kustomize build on folder,
// as Flux would.
func kustomizeBuild(t *testing.T, srv *gittest.Server, folder string) string {
	t.Helper()
	clone := srv.Clone(t, "gitops")
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(clone, folder))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestOverlayLifecycle: deploy, promote, scale-idle and rollback on the
// production overlay of a Flux-style repository. Each writes the overlay
// only (the diffs are goldens): the image and the replicas in production's
// own patch, where it sets them, the live color in bgrender-patch.yaml,
// listed in the kustomization. Staging's build never changes, and Read
// sees each state through production's build.
func TestOverlayLifecycle(t *testing.T) {
	ctx := context.Background()
	srv, url := overlayRepo(t, nil)
	staging := kustomizeBuild(t, srv, "apps/staging")
	tg := overlayTarget(t, url, "apps/production")

	st, err := tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.App != "podinfo" || st.Active != spec.Blue || st.Preview != "podinfo-preview" || st.Images[spec.Green] != "ghcr.io/stefanprodan/podinfo:6.5.0" ||
		st.Replicas[spec.Green] != 3 || st.Namespace != "podinfo-production" {
		t.Fatalf("read production: %+v", st)
	}
	steps := []struct {
		name string
		run  func() (*Result, error)
	}{
		{"deploy", func() (*Result, error) {
			return (&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"}).Run(ctx)
		}},
		{"promote", func() (*Result, error) { return (&Promote{Target: tg}).Run(ctx) }},
		{"scale-idle", func() (*Result, error) { return (&ScaleIdle{Target: tg, Replicas: 1}).Run(ctx) }},
		{"rollback", func() (*Result, error) { return (&Rollback{Target: tg, Force: true}).Run(ctx) }},
		{"promote-again", func() (*Result, error) { return (&Promote{Target: tg}).Run(ctx) }},
	}
	for _, s := range steps {
		res, err := s.run()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.NoOp || res.Commit == "" {
			t.Fatalf("%s: nothing committed: %+v", s.name, res)
		}
		goldenfile.Check(t, filepath.Join("testdata", "golden", "overlay", s.name+".diff"), []byte(res.Diff))
		if strings.Contains(res.Diff, "apps/base/") || strings.Contains(res.Diff, "apps/staging/") {
			t.Errorf("%s changed a file outside the overlay:\n%s", s.name, res.Diff)
		}
		if got := kustomizeBuild(t, srv, "apps/staging"); got != staging {
			t.Errorf("after %s, staging's build changed:\n%s", s.name, got)
		}
	}
	st, err = tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != spec.Green || st.Previous != spec.Blue || st.Images[spec.Green] != "ghcr.io/stefanprodan/podinfo:6.6.0" ||
		st.Images[spec.Blue] != "ghcr.io/stefanprodan/podinfo:6.5.0" || st.Replicas[spec.Blue] != 1 || st.Replicas[spec.Green] != 3 {
		t.Errorf("read production at the end: %s (previous %s)", st, st.Previous)
	}
	build := kustomizeBuild(t, srv, "apps/production")
	for _, want := range []string{"version: green\n", "name: podinfo-preview\n  namespace: podinfo-production\nspec:\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n  selector:\n    app: podinfo\n    version: blue\n"} {
		if !strings.Contains(build, want) {
			t.Errorf("production's build lacks %q:\n%s", want, build)
		}
	}
}

// TestOverlayRollbackChecksHistory: the rollback reads production's
// state in earlier commits through its build: after a deploy to the color
// rolled back to, it refuses (the previous release is gone).
func TestOverlayRollbackChecksHistory(t *testing.T) {
	ctx := context.Background()
	_, url := overlayRepo(t, nil)
	tg := overlayTarget(t, url, "apps/production")
	for _, a := range []interface {
		Run(context.Context) (*Result, error)
	}{
		&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"},
		&Promote{Target: tg},
		&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.7.0"},
	} {
		if _, err := a.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err := (&Rollback{Target: tg}).Run(ctx)
	if exitcode.Of(err) != exitcode.Refused || !strings.Contains(err.Error(), "ran ghcr.io/stefanprodan/podinfo:6.5.0 when it was last live") {
		t.Fatalf("rollback after a deploy to blue: %v", err)
	}
}

// TestOverlayBadInput: layouts bgrender cannot edit safely are exit 2,
// saying what to change, and commit nothing.
func TestOverlayBadInput(t *testing.T) {
	ctx := context.Background()
	rewrite := func(file, old, new string) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, filepath.FromSlash(file))
			data, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(data), old) {
				t.Fatalf("%s lacks %q", file, old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	deploy := func(tg Target) error {
		_, err := (&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"}).Run(ctx)
		return err
	}
	promote := func(tg Target) error {
		_, err := (&Promote{Target: tg}).Run(ctx)
		return err
	}
	for _, tc := range []struct {
		name string
		edit func(string)
		act  func(Target) error
		want string
	}{
		{"remote base", rewrite("apps/production/kustomization.yaml", "  - ../base/podinfo\n", "  - ../base/podinfo\n  - https://github.com/stefanprodan/podinfo//kustomize?ref=6.5.0\n"),
			promote, "apps/production/kustomization.yaml: https://github.com/stefanprodan/podinfo//kustomize?ref=6.5.0 is a remote base"},
		{"only a remote base", func(dir string) {
			write(t, filepath.Join(dir, "apps", "production"), "kustomization.yaml", "resources:\n  - github.com/stefanprodan/podinfo//kustomize?ref=6.5.0\n")
		}, promote, "(the folder's kustomization lists the remote base github.com/stefanprodan/podinfo//kustomize?ref=6.5.0, which bgrender does not fetch"},
		{"images entry", rewrite("apps/production/kustomization.yaml", "patches:\n", "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.5.1\npatches:\n"),
			deploy, "remove the images: entry for ghcr.io/stefanprodan/podinfo from apps/production/kustomization.yaml"},
		{"replicas entry", rewrite("apps/production/kustomization.yaml", "patches:\n", "replicas:\n  - name: podinfo-green\n    count: 2\npatches:\n"),
			func(tg Target) error {
				_, err := (&ScaleIdle{Target: tg, Replicas: 0}).Run(ctx)
				return err
			}, "remove the replicas: entry for podinfo-green from apps/production/kustomization.yaml"},
		{"patchesJson6902 after the patches", rewrite("apps/production/kustomization.yaml", "patches:\n", "patchesJson6902:\n  - target: {version: v1, kind: Service, name: podinfo}\n    patch: |-\n      - op: add\n        path: /spec/selector/version\n        value: blue\npatches:\n"),
			promote, "gives Service podinfo spec.selector.version = blue, not green: something in apps/production/kustomization.yaml sets it after bgrender's patch"},
		{"helm chart", rewrite("apps/base/podinfo/kustomization.yaml", "resources:\n", "helmCharts:\n  - name: podinfo\n    repo: https://stefanprodan.github.io/podinfo\nresources:\n"),
			promote, "apps/base/podinfo/kustomization.yaml: helmCharts: bgrender builds an overlay without running Helm"},
		{"no app", rewrite("apps/base/podinfo/service.yaml", "    version: blue\n", ""),
			promote, "apps/production is a kustomize overlay; its build (Deployment podinfo-blue, Deployment podinfo-green, Service podinfo, Service podinfo-preview) is read as a plain folder"},
		{"missing base", rewrite("apps/production/kustomization.yaml", "../base/podinfo", "../base/podinf"),
			promote, "apps/production/kustomization.yaml: resources: ../base/podinf: no such file or folder in the repository"},
		{"outside the repository", rewrite("apps/production/kustomization.yaml", "../base/podinfo", "../../../base/podinfo"),
			promote, "apps/production/kustomization.yaml: ../../../base/podinfo leaves the repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := overlayRepo(t, tc.edit)
			before := srv.Head(t, "gitops", "main")
			err := tc.act(overlayTarget(t, url, "apps/production"))
			t.Logf("exit %d: %v", exitcode.Of(err), err)
			if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got exit %d: %v\nwant exit 2 with %q", exitcode.Of(err), err, tc.want)
			}
			if after := srv.Head(t, "gitops", "main"); after != before {
				t.Errorf("a refusal committed %s", after)
			}
			var ce *exitcode.Error
			if !errors.As(err, &ce) {
				t.Errorf("not an exitcode error: %T", err)
			}
		})
	}
}

// withRoute adds to the base an HTTPRoute that splits podinfo's traffic
// between a Service per color, as a plain folder's route does.
func withRoute(t *testing.T) func(string) {
	return func(dir string) {
		base := filepath.Join(dir, "apps", "base", "podinfo")
		write(t, base, "services-per-color.yaml", `apiVersion: v1
kind: Service
metadata:
  name: podinfo-blue
spec:
  selector:
    app: podinfo
    version: blue
  ports:
    - port: 80
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: podinfo-green
spec:
  selector:
    app: podinfo
    version: green
  ports:
    - port: 80
      targetPort: http
`)
		write(t, base, "httproute.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: podinfo
spec:
  parentRefs:
    - name: public
      namespace: gateway-system
  rules:
    - backendRefs:
        - name: podinfo-blue
          port: 80
          weight: 100
        - name: podinfo-green
          port: 80
          weight: 0
`)
		replaceIn(t, base, "kustomization.yaml", "  - service-preview.yaml\n", "  - service-preview.yaml\n  - services-per-color.yaml\n  - httproute.yaml\n")
	}
}

// TestOverlayShift: shift and promote on an overlay whose base splits
// traffic with an HTTPRoute: the route's rules (a list that a
// strategic-merge patch of a custom resource replaces whole) go into
// bgrender-patch.yaml with the new weights.
func TestOverlayShift(t *testing.T) {
	ctx := context.Background()
	srv, url := overlayRepo(t, withRoute(t))
	staging := kustomizeBuild(t, srv, "apps/staging")
	tg := overlayTarget(t, url, "apps/production")
	for _, s := range []struct {
		name string
		run  func() (*Result, error)
	}{
		{"shift", func() (*Result, error) { return (&Shift{Target: tg, Weight: 25}).Run(ctx) }},
		{"shift-promote", func() (*Result, error) { return (&Promote{Target: tg}).Run(ctx) }},
	} {
		res, err := s.run()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		goldenfile.Check(t, filepath.Join("testdata", "golden", "overlay", s.name+".diff"), []byte(res.Diff))
	}
	st, err := tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != spec.Green || st.Weight == nil || *st.Weight != 0 || st.RouteName != "podinfo" {
		t.Errorf("after the promote: %s, route %q", st, st.RouteName)
	}
	if got := kustomizeBuild(t, srv, "apps/staging"); got != staging {
		t.Errorf("staging's build changed:\n%s", got)
	}
}

// TestOverlayVariants: other shapes of overlays that Flux and Argo CD
// repositories have. Staging patches nothing (deploy's image goes into
// bgrender-patch.yaml as a container item, merged by name); an overlay
// with a namePrefix patches the base's names; an older overlay's
// patchesStrategicMerge file is edited in place; an overlay of an overlay
// reads through both.
func TestOverlayVariants(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, path string
		edit       func(string)
		app        string
	}{
		{"staging", "apps/staging", nil, "podinfo"},
		{"prefix", "apps/production", func(dir string) {
			replaceIn(t, filepath.Join(dir, "apps", "production"), "kustomization.yaml", "namespace: podinfo-production\n", "namespace: podinfo-production\nnamePrefix: prod-\n")
		}, "prod-podinfo"},
		{"strategic-merge", "apps/production", func(dir string) {
			replaceIn(t, filepath.Join(dir, "apps", "production"), "kustomization.yaml", "patches:\n  # the release and replicas of each color\n  - path: podinfo-patch.yaml\n",
				"patchesStrategicMerge:\n  - podinfo-patch.yaml\n")
		}, "podinfo"},
		{"overlay-of-overlay", "apps/production-eu", func(dir string) {
			eu := filepath.Join(dir, "apps", "production-eu")
			if err := os.MkdirAll(eu, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, eu, "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: eu-\nresources:\n  - ../production\n")
		}, "eu-podinfo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := overlayRepo(t, tc.edit)
			others := map[string]string{}
			for _, o := range []string{"apps/staging", "apps/production"} {
				if o != tc.path {
					others[o] = kustomizeBuild(t, srv, o)
				}
			}
			tg := overlayTarget(t, url, tc.path)
			var diffs strings.Builder
			for _, a := range []interface {
				Run(context.Context) (*Result, error)
			}{
				&Deploy{Target: tg, Image: "ghcr.io/stefanprodan/podinfo:6.6.0"},
				&Promote{Target: tg},
			} {
				res, err := a.Run(ctx)
				if err != nil {
					t.Fatal(err)
				}
				diffs.WriteString(res.Diff)
			}
			goldenfile.Check(t, filepath.Join("testdata", "golden", "overlay", "variant-"+tc.name+".diff"), []byte(diffs.String()))
			st, err := tg.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.App != tc.app || st.Active != spec.Green || st.Images[spec.Green] != "ghcr.io/stefanprodan/podinfo:6.6.0" {
				t.Errorf("read %s: %s (app %s)", tc.path, st, st.App)
			}
			for o, before := range others {
				if got := kustomizeBuild(t, srv, o); got != before {
					t.Errorf("%s's build changed:\n%s", o, got)
				}
			}
		})
	}
}

// TestOverlayGates: the overlay's own bgrender.gates are the app's gates
// (each overlay has its own; the base's are not read), and Read gives the
// namespace the build gives the app.
func TestOverlayGates(t *testing.T) {
	_, url := overlayRepo(t, func(dir string) {
		write(t, filepath.Join(dir, "apps", "production"), spec.GatesFile, "rollout: {timeout: 7m}\n")
		write(t, filepath.Join(dir, "apps", "base", "podinfo"), spec.GatesFile, "rollout: {timeout: 1m}\n")
	})
	tg := overlayTarget(t, url, "apps/production")
	st, err := tg.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Gates == nil || st.Gates.File != spec.GatesFile || st.Gates.Spec.Rollout == nil || st.Gates.Spec.Rollout.Timeout != "7m" {
		t.Errorf("production's gates: %+v", st.Gates)
	}
	if st.Namespace != "podinfo-production" || !strings.Contains(st.NamespaceFrom, "kustomize build apps/production") {
		t.Errorf("namespace %q from %q", st.Namespace, st.NamespaceFrom)
	}
}
