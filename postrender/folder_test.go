package postrender_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/postrender"
)

// The previous output committed to Git carries the live color forward:
// the color its Service selects (a promote in Git flips the selector, not
// the annotation alone) keeps its Deployment byte for byte, and the new
// render goes to the other color. Files beside it that are not the
// chart's are read and do not matter.
func TestFolderIsThePreviousRelease(t *testing.T) {
	dir := t.TempDir()
	first := run(t, stream, postrender.Options{})
	// A promote in Git: the Service's selector on green.
	promoted := strings.Replace(first, "    bgrender.io/color: blue\n  ports:\n  - port: 80\n    nodePort", "    bgrender.io/color: green\n  ports:\n  - port: 80\n    nodePort", 1)
	if promoted == first {
		t.Fatal("the test's promote found no selector to flip")
	}
	write(t, filepath.Join(dir, "manifests.yaml"), promoted)
	write(t, filepath.Join(dir, "extra", "config.yml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n")
	write(t, filepath.Join(dir, "bgrender.gates"), "not: [yaml")

	upgraded := strings.Replace(stream, "example/web:1.0", "example/web:2.0", 1)
	for name, prev := range map[string]*postrender.Folder{
		"folder": {Path: dir},
		"file":   {Path: filepath.Join(dir, "manifests.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			out := run(t, upgraded, postrender.Options{Previous: prev})
			objs := docs(t, out)
			was := docs(t, promoted)
			if got, want := objs["Deployment/web-green"].MustString(), was["Deployment/web-green"].MustString(); got != want {
				t.Errorf("the live green Deployment changed:\n%s\n--- was\n%s", got, want)
			}
			if got := get(t, objs["Deployment/web-blue"], "spec.template.spec.containers.[name=web].image"); got != "example/web:2.0" {
				t.Errorf("idle blue runs %s, want the new render's 2.0", got)
			}
			if get(t, objs["Service/web"], "spec.selector.bgrender\\.io/color") != "green" || get(t, objs["Service/web-preview"], "spec.selector.bgrender\\.io/color") != "blue" {
				t.Errorf("the Services do not keep green live and preview blue")
			}
		})
	}
}

// A previous file that is not YAML is bad input that names it.
func TestFolderBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "manifests.yaml")
	write(t, bad, "apiVersion: v1\nkind: Service\nmetadata: {name: web\n")
	_, err := postrender.Run(t.Context(), []byte(stream), postrender.Options{Previous: &postrender.Folder{Path: dir}})
	var coded *exitcode.Error
	if !errors.As(err, &coded) || coded.Code != exitcode.Invalid || !strings.Contains(err.Error(), bad) {
		t.Fatalf("got %v; want exit 2 naming %s", err, bad)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
