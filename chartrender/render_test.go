package chartrender_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/chartrender"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
)

// The render of bgrender-chart is that of the real helm template binary,
// byte for byte, for the flags bgrender deploy --chart passes on: values
// precedence, hooks and tests, CRDs, the Kubernetes version and API
// versions, the release name and namespace.
func TestRenderIsHelmTemplate(t *testing.T) {
	helm := helmtest.Require(t, 3)
	chart := filepath.Join("testdata", "parity")
	cases := map[string]struct {
		opts chartrender.Options
		args []string
	}{
		"defaults": {},
		"values precedence": {
			opts: chartrender.Options{ValueFiles: []string{"testdata/values-a.yaml", "testdata/values-b.yaml"}, Values: []string{"image.tag=2.0", "replicas=5"}, StringValues: []string{"greeting=007"}},
			args: []string{"-f", "testdata/values-a.yaml", "-f", "testdata/values-b.yaml", "--set", "image.tag=2.0", "--set", "replicas=5", "--set-string", "greeting=007"},
		},
		"kube version and API versions": {
			opts: chartrender.Options{KubeVersion: "v1.29.4", APIVersions: []string{"example.com/v1"}},
			args: []string{"--kube-version", "v1.29.4", "--api-versions", "example.com/v1"},
		},
		"include crds":      {opts: chartrender.Options{IncludeCRDs: true}, args: []string{"--include-crds"}},
		"no hooks":          {opts: chartrender.Options{NoHooks: true}, args: []string{"--no-hooks"}},
		"skip tests":        {opts: chartrender.Options{SkipTests: true}, args: []string{"--skip-tests"}},
		"release namespace": {opts: chartrender.Options{Namespace: "shop"}, args: []string{"--namespace", "shop"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := tc.opts
			o.Chart, o.ReleaseName = chart, "web"
			if o.Namespace == "" {
				o.Namespace = "default"
			}
			assertSame(t, helm, o, append([]string{"template", "web", chart}, tc.args...))
		})
	}
}

// An example chart, and the same chart packaged, render as helm template
// renders them.
func TestRenderExampleAndPackagedChart(t *testing.T) {
	helm := helmtest.Require(t, 3)
	ctx := context.Background()
	shop := filepath.Join("..", "examples", "charts", "shop")
	assertSame(t, helm, chartrender.Options{Chart: shop, ReleaseName: "shop", Namespace: "default", Values: []string{"replicas=4"}},
		[]string{"template", "shop", shop, "--set", "replicas=4"})

	dir := t.TempDir()
	if _, stderr, err := helm.Run(ctx, "package", shop, "--destination", dir); err != nil {
		t.Fatalf("helm package: %v\n%s", err, stderr)
	}
	tgz, _ := filepath.Glob(filepath.Join(dir, "shop-*.tgz"))
	if len(tgz) != 1 {
		t.Fatalf("helm package wrote %v", tgz)
	}
	assertSame(t, helm, chartrender.Options{Chart: tgz[0], ReleaseName: "shop", Namespace: "default"},
		[]string{"template", "shop", tgz[0]})
}

// REPO/NAME is read from the Helm repositories file and the repository's
// cached index, as helm does: the same repository added by the real helm
// gives the same render, of the version asked for.
func TestRenderRepositoryChart(t *testing.T) {
	helm := helmtest.Require(t, 3)
	ctx := context.Background()
	repoDir := t.TempDir()
	for _, v := range []string{"0.1.0", "0.2.0"} {
		if _, stderr, err := helm.Run(ctx, "package", "testdata/parity", "--version", v, "--app-version", v, "--destination", repoDir); err != nil {
			t.Fatalf("helm package: %v\n%s", err, stderr)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()
	if _, stderr, err := helm.Run(ctx, "repo", "index", repoDir, "--url", srv.URL); err != nil {
		t.Fatalf("helm repo index: %v\n%s", err, stderr)
	}
	if _, stderr, err := helm.Run(ctx, "repo", "add", "examples", srv.URL); err != nil {
		t.Fatalf("helm repo add: %v\n%s", err, stderr)
	}
	for _, kv := range helm.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	assertSame(t, helm, chartrender.Options{Chart: "examples/parity", Version: "0.1.0", ReleaseName: "web", Namespace: "default"},
		[]string{"template", "web", "examples/parity", "--version", "0.1.0"})
	out := assertSame(t, helm, chartrender.Options{Chart: "examples/parity", ReleaseName: "web", Namespace: "default"},
		[]string{"template", "web", "examples/parity"})
	if !strings.Contains(out, "helm.sh/chart") && !strings.Contains(out, "kube-version") {
		t.Fatalf("the repository chart rendered nothing of its own:\n%s", out)
	}
}

// assertSame renders with o and with the helm binary, and compares.
func assertSame(t *testing.T, helm *helmtest.Helm, o chartrender.Options, args []string) string {
	t.Helper()
	got, err := chartrender.Render(context.Background(), o)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want, stderr, err := helm.Run(context.Background(), args...)
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr)
	}
	if string(got) != want {
		t.Fatalf("the render differs from helm %s\n--- bgrender-chart\n%s\n--- helm\n%s", strings.Join(args, " "), got, want)
	}
	return want
}

// Bad input is an InputError that names what is wrong: the chart that is
// not there, the values file and its line, the template.
func TestRenderBadInput(t *testing.T) {
	broken := t.TempDir()
	if err := os.CopyFS(broken, os.DirFS("testdata/parity")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "templates", "broken.yaml"), []byte("{{ .Values.nope.deeper }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		opts chartrender.Options
		want []string
	}{
		"missing chart":     {chartrender.Options{Chart: "testdata/nothing-here"}, []string{"testdata/nothing-here"}},
		"bad values file":   {chartrender.Options{Chart: "testdata/parity", ValueFiles: []string{"testdata/values-bad.yaml"}}, []string{"testdata/values-bad.yaml:3:"}},
		"missing values":    {chartrender.Options{Chart: "testdata/parity", ValueFiles: []string{"testdata/none.yaml"}}, []string{"testdata/none.yaml"}},
		"duplicate key":     {chartrender.Options{Chart: "testdata/parity", ValueFiles: []string{"testdata/values-dup.yaml"}}, []string{"testdata/values-dup.yaml:3: image: duplicate key (first defined on line 1)"}},
		"bad --set":         {chartrender.Options{Chart: "testdata/parity", Values: []string{"a.b[=1"}}, []string{"--set"}},
		"bad kube version":  {chartrender.Options{Chart: "testdata/parity", KubeVersion: "one"}, []string{"--kube-version", "one"}},
		"template error":    {chartrender.Options{Chart: broken}, []string{"broken.yaml", "nope"}},
		"library chart":     {chartrender.Options{Chart: libraryChart(t)}, []string{"library charts are not installable"}},
		"unknown repo name": {chartrender.Options{Chart: "norepo/web"}, []string{"norepo"}},
	}
	t.Setenv("HELM_REPOSITORY_CONFIG", filepath.Join(t.TempDir(), "repositories.yaml"))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := tc.opts
			o.ReleaseName, o.Namespace = "web", "default"
			out, err := chartrender.Render(context.Background(), o)
			var input *chartrender.InputError
			if !errors.As(err, &input) {
				t.Fatalf("got %v (%T), output %q; want an InputError", err, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func libraryChart(t *testing.T) string {
	dir := t.TempDir()
	chart := "apiVersion: v2\nname: lib\ntype: library\nversion: 0.1.0\n"
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(chart), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// DefaultKubeVersion follows the client-go of go.mod, as a release build
// of helm takes its default from its client-go.
func TestDefaultKubeVersionFollowsClientGo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/client-go v0\.(\d+)\.`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod requires no k8s.io/client-go")
	}
	if want := "v1." + string(m[1]) + ".0"; chartrender.DefaultKubeVersion != want {
		t.Fatalf("DefaultKubeVersion is %s; go.mod's client-go gives %s", chartrender.DefaultKubeVersion, want)
	}
}
