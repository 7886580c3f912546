package promote

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func copyPlain(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "../testdata/gitops/plain"
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, dir, name, old, new string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q (%v)", name, old, err)
	}
	write(t, dir, name, strings.Replace(string(data), old, new, 1))
}

// TestPlainLayoutSkipsTemplates: a Helm template in the folder (which is
// not YAML) does not stop an action on the manifests beside it.
func TestPlainLayoutSkipsTemplates(t *testing.T) {
	dir := copyPlain(t)
	write(t, dir, "templates-deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n  labels: {}\n{{- end }}\n")
	if _, err := openLayout(dir, PlainOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPromoteNeedsADeployment: promote and rollback refuse a color that
// has no Deployment in the folder (exit 3), unless forced.
func TestPromoteNeedsADeployment(t *testing.T) {
	dir := copyPlain(t)
	os.Remove(filepath.Join(dir, "deployment-green.yaml"))
	l, err := openLayout(dir, PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = canServe(l.state(), spec.Green)
	if exitcode.Of(err) != exitcode.Refused || !strings.Contains(err.Error(), "no Deployment for green in the app folder") {
		t.Fatalf("err = %v", err)
	}
	if err := canServe(l.state(), spec.Blue); err != nil {
		t.Fatal(err)
	}
}

func TestPlainLayoutState(t *testing.T) {
	l, err := openLayout(copyPlain(t), PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := l.state()
	want := "active=blue blue=myapp:v1.2.3 green=myapp:v1.2.3 replicas=3/3 weight=none"
	if st.App != "application-service" || st.String() != want || st.Previous != spec.Green {
		t.Fatalf("state = %s %s (previous %s), want %s", st.App, st, st.Previous, want)
	}
}

func TestPlainLayoutEditsInPlace(t *testing.T) {
	dir := copyPlain(t)
	before, _ := os.ReadFile(filepath.Join(dir, "deployment-green.yaml"))
	l, err := openLayout(dir, PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.setImage(spec.Green, "myapp:v2"); err != nil {
		t.Fatal(err)
	}
	if err := l.setIdleReplicas(0); err != nil {
		t.Fatal(err)
	}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "deployment-green.yaml"))
	want := strings.Replace(strings.Replace(string(before), "image: myapp:v1.2.3   #", "image: myapp:v2   #", 1), "replicas: 3", "replicas: 0", 1)
	if string(after) != want {
		t.Fatalf("deployment-green.yaml:\n%s", after)
	}
}

func TestPlainLayoutErrors(t *testing.T) {
	tests := map[string]struct {
		setup func(t *testing.T, dir string)
		opts  PlainOptions
		want  string
	}{
		"unknown service":   {nil, PlainOptions{Service: "nope"}, `no Service "nope"`},
		"wrong color label": {nil, PlainOptions{ColorLabel: "app"}, "whose value is blue or green"},
		"two color services": {func(t *testing.T, dir string) {
			write(t, dir, "other.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: other}\nspec: {selector: {color: green}}\n")
		}, PlainOptions{}, "several Services select a color"},
		"no service": {func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "service.yaml"))
		}, PlainOptions{}, "name the Service with --service"},
		"bad yaml": {func(t *testing.T, dir string) {
			write(t, dir, "broken.yaml", "a: [\n")
		}, PlainOptions{}, "broken.yaml"},
		"two color keys": {func(t *testing.T, dir string) {
			replaceIn(t, dir, "service.yaml", "    app: my-application\n", "    app: my-application\n    slot: green\n")
		}, PlainOptions{}, "application-service: 2 selector keys (slot, version) have a blue or green value; name the color label with --color-label"},
		"capitalised color": {func(t *testing.T, dir string) {
			replaceIn(t, dir, "service.yaml", "version: blue", "version: Blue")
		}, PlainOptions{}, "no Service whose selector has a blue or green value"},
		"two deployments of a color": {func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "deployment-green.yaml"))
			write(t, dir, "staging-green.yaml", strings.Replace(string(data), "name: application-green", "name: staging-green", 1))
		}, PlainOptions{}, "several Deployments run the green pods of Service application-service: application-green (deployment-green.yaml), staging-green (staging-green.yaml); keep one per color"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := copyPlain(t)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := openLayout(dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.Of(err) != exitcode.Invalid {
				t.Fatalf("err = %v (exit %d), want %q", err, exitcode.Of(err), tc.want)
			}
		})
	}
}

func TestManagedLayoutEditsSpecAndRenders(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("../examples/seed/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, SpecFile, string(data))
	l, err := openLayout(dir, PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.state().String(); got != "active=blue blue=myapp:v1.2.3 green=myapp:v1.2.3 replicas=3/3 weight=none" {
		t.Fatalf("state %s", got)
	}
	if err := l.setActive(spec.Green); err != nil {
		t.Fatal(err)
	}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, SpecFile))
	if want := strings.Replace(string(data), "  active: blue\n", "  active: green\n", 1); string(after) != want {
		t.Fatalf("bgrender.yaml:\n%s", after)
	}
	svc, err := os.ReadFile(filepath.Join(dir, "service-my-application.yaml"))
	if err != nil || !strings.Contains(string(svc), "version: green") || !strings.Contains(string(svc), render.AnnotationActiveColor+": green") {
		t.Fatalf("rendered service: %s %v", svc, err)
	}
}

func TestManagedLayoutRejectsInvalidSpec(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, SpecFile, "apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: x}\nspec: {bogus: 1}\n")
	_, err := openLayout(dir, PlainOptions{})
	var list spec.ErrorList
	if !errors.As(err, &list) || exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "bgrender.yaml:4") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeploySinceLive(t *testing.T) {
	c := func(msg string) *object.Commit { return &object.Commit{Message: msg} }
	trailers := func(app, action, to string) string {
		return "x\n\nBgrender-App: " + app + "\nBgrender-Action: " + action + "\nBgrender-To: " + to + "\n"
	}
	tests := map[string]struct {
		history []*object.Commit
		want    bool
	}{
		"deploy after the flip":   {[]*object.Commit{c(trailers("web", "deploy", "green")), c(trailers("web", "promote", "blue"))}, true},
		"deploy before the flip":  {[]*object.Commit{c(trailers("web", "promote", "blue")), c(trailers("web", "deploy", "green"))}, false},
		"deploy to the other one": {[]*object.Commit{c(trailers("web", "deploy", "blue"))}, false},
		"another app":             {[]*object.Commit{c(trailers("api", "deploy", "green"))}, false},
		"hand commits":            {[]*object.Commit{c("fix typo\n"), c(trailers("web", "deploy", "green"))}, true},
		"a group's flip since":    {[]*object.Commit{c(trailers("api, web", "promote", "blue")), c(trailers("web", "deploy", "green"))}, false},
		"another group":           {[]*object.Commit{c(trailers("api, webshop", "promote", "blue")), c(trailers("web", "deploy", "green"))}, true},
	}
	for name, tc := range tests {
		if got := deploySinceLive(tc.history, "web", spec.Green) != nil; got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}
