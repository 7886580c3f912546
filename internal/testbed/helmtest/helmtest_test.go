package helmtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/helmtest"
)

// writeFile writes content to dir/name, creating directories.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeChart writes a tiny chart (a Deployment, a Service and a pre-install
// hook) and returns its directory.
func writeChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	writeFile(t, dir, "Chart.yaml", `apiVersion: v2
name: demo
version: 0.1.0
`, 0o644)
	writeFile(t, dir, "templates/deployment.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
`, 0o644)
	writeFile(t, dir, "templates/service.yaml", `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
`, 0o644)
	writeFile(t, dir, "templates/hook.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: pre-install
data:
  hello: world
`, 0o644)
	return dir
}

// writeScript writes an executable shell script into a temporary directory.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), name, "#!/bin/sh\n"+body, 0o755)
}

// passthrough is a post-renderer that changes nothing.
const passthrough = "exec cat\n"

// recorder is a post-renderer that records its arguments (one "<arg>" a line)
// and its input under $RECORD_DIR and passes the input through.
const recorder = `set -e
for a in "$@"; do printf '<%s>\n' "$a"; done >"$RECORD_DIR/args"
tee "$RECORD_DIR/stdin"
`

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func requireDeployment(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"kind: Deployment", "name: demo-web", "image: nginx:1.27", "kind: Service"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, major := range []int{3, 4} {
		t.Run("helm"+strconv.Itoa(major), func(t *testing.T) {
			h := helmtest.Require(t, major)
			out, _, err := h.Run(ctx(t), "version", "--template", "{{.Version}}")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimSpace(out), helmtest.Versions[major]; got != want {
				t.Errorf("helm%d version = %q, want %q", major, got, want)
			}
		})
	}
}

func TestHelm3PostRenderer(t *testing.T) {
	h := helmtest.Require(t, 3)
	chart := writeChart(t)
	script := writeScript(t, "passthrough.sh", passthrough)

	out, _, err := h.Template(ctx(t), chart, "--name-template", "demo", "--post-renderer", script)
	if err != nil {
		t.Fatal(err)
	}
	requireDeployment(t, out)

	t.Run("protocol", func(t *testing.T) {
		rec := t.TempDir()
		h := *h
		h.Env = append(slices.Clone(h.Env), "RECORD_DIR="+rec)
		script := writeScript(t, "recorder.sh", recorder)
		_, _, err := h.Template(ctx(t), chart, "--name-template", "demo", "--post-renderer", script,
			"--post-renderer-args", "x", "--post-renderer-args", "", "--post-renderer-args", "y,z")
		if err != nil {
			t.Fatal(err)
		}
		args, stdin := readRecord(t, rec)
		if want := "<x>\n<>\n<y,z>\n"; args != want {
			t.Errorf("args = %q, want %q", args, want)
		}
		if !strings.Contains(stdin, "# Source: demo/templates/deployment.yaml") {
			t.Errorf("Helm 3 input lacks # Source comments:\n%s", stdin)
		}
		if strings.Contains(stdin, "demo-hook") {
			t.Errorf("Helm 3 passed a hook to the post-renderer:\n%s", stdin)
		}
	})

	t.Run("stderr", func(t *testing.T) {
		script := writeScript(t, "fail.sh", "echo boom-from-renderer >&2\nexit 3\n")
		_, _, err := h.Template(ctx(t), chart, "--post-renderer", script)
		if err == nil || !strings.Contains(err.Error(), "boom-from-renderer") {
			t.Fatalf("want an error showing the post-renderer's stderr, got %v", err)
		}
	})
}

func TestHelm4PostRendererPlugin(t *testing.T) {
	h := helmtest.Require(t, 4)
	chart := writeChart(t)
	helmtest.InstallPostRendererPlugin(t, h, "passthrough", writeScript(t, "passthrough.sh", passthrough))

	out, _, err := h.Template(ctx(t), chart, "--name-template", "demo", "--post-renderer", "passthrough")
	if err != nil {
		t.Fatal(err)
	}
	requireDeployment(t, out)
	if strings.Contains(out, "postrender-filename") {
		t.Errorf("the filename annotation leaked into the output:\n%s", out)
	}

	t.Run("protocol", func(t *testing.T) {
		rec := t.TempDir()
		h := *h
		h.Env = append(slices.Clone(h.Env), "RECORD_DIR="+rec)
		helmtest.InstallPostRendererPlugin(t, &h, "recorder", writeScript(t, "recorder.sh", recorder), "a1", "b c")
		// --post-renderer-args before --post-renderer counts too.
		_, _, err := h.Template(ctx(t), chart, "--name-template", "demo", "--post-renderer-args", "x",
			"--post-renderer", "recorder", "--post-renderer-args", "", "--post-renderer-args", "y,z")
		if err != nil {
			t.Fatal(err)
		}
		args, stdin := readRecord(t, rec)
		if want := "<a1>\n<b c>\n<x>\n<>\n<y,z>\n"; args != want {
			t.Errorf("args = %q, want %q", args, want)
		}
		for _, want := range []string{
			"postrenderer.helm.sh/postrender-filename: 'demo/templates/deployment.yaml'",
			"name: demo-hook", // hooks are post-rendered too
		} {
			if !strings.Contains(stdin, want) {
				t.Errorf("Helm 4 input lacks %q:\n%s", want, stdin)
			}
		}
		if strings.Contains(stdin, "# Source:") {
			t.Errorf("Helm 4 input has # Source comments:\n%s", stdin)
		}
	})

	t.Run("stderr", func(t *testing.T) {
		helmtest.InstallPostRendererPlugin(t, h, "fail", writeScript(t, "fail.sh", "echo boom-from-renderer >&2\nexit 3\n"))
		_, stderr, err := h.Template(ctx(t), chart, "--post-renderer", "fail")
		if err == nil {
			t.Fatal("want an error")
		}
		if !strings.Contains(stderr, `plugin "fail" exited with error`) {
			t.Errorf("unexpected error: %v", err)
		}
		if strings.Contains(stderr, "boom-from-renderer") {
			t.Errorf("Helm 4 now shows the plugin's stderr; update the package documentation:\n%s", stderr)
		}
	})

	t.Run("empty output", func(t *testing.T) {
		helmtest.InstallPostRendererPlugin(t, h, "empty", writeScript(t, "empty.sh", "cat >/dev/null\n"))
		_, stderr, err := h.Template(ctx(t), chart, "--post-renderer", "empty")
		if err == nil || !strings.Contains(stderr, `post-renderer "empty" produced empty output`) {
			t.Errorf("want the empty-output error, got %v", err)
		}
	})
}

func TestInstallPostRendererPluginManifest(t *testing.T) {
	got, err := helmtest.PostRendererPluginManifest("bgrender", "helm")
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
type: postrenderer/v1
name: bgrender
version: 0.1.0
runtime: subprocess
runtimeConfig:
    platformCommand:
        - command: ${HELM_PLUGIN_DIR}/postrenderer
          args:
            - helm
`
	if string(got) != want {
		t.Errorf("manifest:\n%s\nwant:\n%s", got, want)
	}
}

func readRecord(t *testing.T, dir string) (args, stdin string) {
	t.Helper()
	a, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	return string(a), string(s)
}

func TestFindMissing(t *testing.T) {
	t.Setenv(helmtest.EnvHelm4Bin, filepath.Join(t.TempDir(), "no-helm"))
	_, err := helmtest.Find(4)
	var missing *helmtest.MissingBinaryError
	if !errors.As(err, &missing) || missing.Major != 4 {
		t.Fatalf("Find(4) error = %v, want a *MissingBinaryError", err)
	}
	if !strings.Contains(err.Error(), "make tools") || !strings.Contains(err.Error(), helmtest.EnvHelm4Bin) {
		t.Errorf("error does not say how to install: %v", err)
	}
	if _, err := helmtest.Find(2); err == nil || errors.As(err, &missing) {
		t.Errorf("Find(2) error = %v, want an unsupported-version error", err)
	}
}

func TestIsolation(t *testing.T) {
	h := helmtest.Require(t, 4)
	t.Setenv("HELM_DRIVER", "sql") // not passed on
	out, _, err := h.Run(ctx(t), "env")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`HELM_CACHE_HOME="` + filepath.Join(h.Home, "cache") + `"`,
		`HELM_CONFIG_HOME="` + filepath.Join(h.Home, "config") + `"`,
		`HELM_DATA_HOME="` + filepath.Join(h.Home, "data") + `"`,
		`HELM_PLUGINS="` + h.PluginsDir() + `"`,
		`HELM_KUBECONTEXT=""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("helm env lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `HELM_DRIVER="sql"`) {
		t.Errorf("HELM_DRIVER leaked into helm's environment:\n%s", out)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	k := h.WithKubeconfig(kc)
	if k.Home != h.Home || !slices.Contains(k.Env, "KUBECONFIG="+kc) || slices.Contains(h.Env, "KUBECONFIG="+kc) {
		t.Errorf("WithKubeconfig: got %+v from %+v", k, h)
	}
}

func TestBuildBgrender(t *testing.T) {
	bin := helmtest.BuildBgrender(t)
	if !filepath.IsAbs(bin) {
		t.Errorf("BuildBgrender() = %q, want an absolute path", bin)
	}
	if again := helmtest.BuildBgrender(t); again != bin {
		t.Errorf("second BuildBgrender() = %q, want %q", again, bin)
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("%s is not an executable file: %v", bin, err)
	}
}
