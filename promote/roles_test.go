package promote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// service is a Service of the article's app selecting color, with extra
// lines under metadata (annotations).
func service(name, color, metadata string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: production\n" + metadata +
		"spec:\n  selector:\n    app: my-application\n    version: " + color + "\n  ports:\n    - port: 80\n      targetPort: 8080\n"
}

// rolesFolder is the article's folder with its Services replaced by
// services (file name → text).
func rolesFolder(t *testing.T, services map[string]string) string {
	t.Helper()
	dir := copyPlain(t)
	if err := os.Remove(filepath.Join(dir, "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for name, text := range services {
		write(t, dir, name, text)
	}
	return dir
}

const ingressTo = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: %s\n                port: {number: 80}\n"

// TestPlainRoles: the live and the preview Service are found by role —
// the same pods but for the color — whatever their names, and every flip
// flips both.
func TestPlainRoles(t *testing.T) {
	tests := map[string]struct {
		services      map[string]string
		opts          PlainOptions
		live, preview string
	}{
		"the article's Rollout names": {map[string]string{
			"active.yaml":  service("application-active", "blue", ""),
			"preview.yaml": service("application-preview", "green", ""),
		}, PlainOptions{}, "application-active", "application-preview"},
		"service and preview": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
			"preview.yaml": service("application-preview", "green", ""),
		}, PlainOptions{}, "application-service", "application-preview"},
		"<live>-preview": {map[string]string{
			"service.yaml": service("application-service", "blue", "") + "---\n" + service("application-service-preview", "green", ""),
		}, PlainOptions{}, "application-service", "application-service-preview"},
		"bgrender's annotations": {map[string]string{
			"a.yaml": service("web-a", "green", "  annotations:\n    bgrender.io/active-color: green\n"),
			"b.yaml": service("web-b", "blue", ""),
		}, PlainOptions{}, "web-a", "web-b"},
		"postrender's preview annotation": {map[string]string{
			"a.yaml": service("web-a", "green", "  annotations:\n    bgrender.io/active-color: blue\n    bgrender.io/preview-color: green\n"),
			"b.yaml": service("web-b", "blue", "  annotations:\n    bgrender.io/active-color: blue\n"),
		}, PlainOptions{}, "web-b", "web-a"},
		"the Ingress sends to the live one": {map[string]string{
			"a.yaml":       service("web-a", "green", ""),
			"b.yaml":       service("web-b", "blue", ""),
			"ingress.yaml": strings.ReplaceAll(ingressTo, "%s", "web-b"),
		}, PlainOptions{}, "web-b", "web-a"},
		"--service names the live one": {map[string]string{
			"a.yaml": service("web-a", "green", ""),
			"b.yaml": service("web-b", "blue", ""),
		}, PlainOptions{Service: "web-a"}, "web-a", "web-b"},
		"--preview-service names the preview": {map[string]string{
			"a.yaml": service("web-a", "green", ""),
			"b.yaml": service("web-b", "blue", ""),
		}, PlainOptions{PreviewService: "web-a"}, "web-b", "web-a"},
		"--preview-service among several": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
			"preview.yaml": service("application-preview", "green", ""),
			"test.yaml":    service("application-test", "green", ""),
		}, PlainOptions{PreviewService: "application-test"}, "application-service", "application-test"},
		"a per-color pair is no preview": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
			"colors.yaml":  service("application-blue", "blue", "") + "---\n" + service("application-green", "green", ""),
		}, PlainOptions{}, "application-service", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := rolesFolder(t, tc.services)
			l, err := openLayout(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			st := l.state()
			if st.Service != tc.live || st.Preview != tc.preview {
				t.Fatalf("live %q, preview %q; want %q, %q", st.Service, st.Preview, tc.live, tc.preview)
			}
			// The flip: both Services change color, the preview onto the
			// color that was live.
			from := st.Active
			if err := l.setActive(from.Other()); err != nil {
				t.Fatal(err)
			}
			if err := l.save(); err != nil {
				t.Fatal(err)
			}
			again, err := openLayout(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := again.(*plain)
			if got := again.state(); got.Service != tc.live || got.Preview != tc.preview || got.Active != from.Other() {
				t.Fatalf("after the flip: live %s on %s, preview %q", got.Service, got.Active, got.Preview)
			}
			if p.preview != nil {
				if c := colorIn(p.preview); c != from {
					t.Errorf("the preview Service selects %s after the flip, want %s", c, from)
				}
			}
		})
	}
}

func colorIn(m *manifest) spec.Color {
	s, _ := colorService(m, "")
	return s.color
}

// TestPlainRolesUnclear: when the folder does not say which Service is
// live, or which is the preview, the action stops (exit 2) naming the
// Services and the flag that says it.
func TestPlainRolesUnclear(t *testing.T) {
	tests := map[string]struct {
		services map[string]string
		opts     PlainOptions
		want     []string
	}{
		"two, nothing says which is live": {map[string]string{
			"a.yaml": service("web-a", "green", ""),
			"b.yaml": service("web-b", "blue", ""),
		}, PlainOptions{}, []string{"web-a (a.yaml), web-b (b.yaml) select the same pods", "--service", "--preview-service"}},
		"several previews": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
			"preview.yaml": service("application-preview", "green", ""),
			"test.yaml":    service("application-test", "green", ""),
		}, PlainOptions{}, []string{"several Services select the pods of application-service with a color: application-preview (preview.yaml), application-test (test.yaml)", "--preview-service"}},
		"--preview-service of other pods": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
			"other.yaml":   strings.Replace(service("other-preview", "green", ""), "app: my-application", "app: other", 1),
		}, PlainOptions{Service: "application-service", PreviewService: "other-preview"}, []string{"other.yaml: Service other-preview selects other pods than service.yaml: Service application-service"}},
		"--preview-service is --service": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
		}, PlainOptions{Service: "application-service", PreviewService: "application-service"}, []string{"--service and --preview-service both name"}},
		"--preview-service unknown": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
		}, PlainOptions{PreviewService: "nope"}, []string{`--preview-service: no Service "nope"`}},
		"--preview-service alone": {map[string]string{
			"service.yaml": service("application-service", "blue", ""),
		}, PlainOptions{PreviewService: "application-service"}, []string{"the only Service that selects its pods with a color: name the live Service with --service"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := openLayout(rolesFolder(t, tc.services), tc.opts)
			if err == nil || exitcode.Of(err) != exitcode.Invalid {
				t.Fatalf("err = %v (exit %d), want exit 2", err, exitcode.Of(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant %q", err, w)
				}
			}
		})
	}
}

func TestNameRole(t *testing.T) {
	for name, want := range map[string]role{
		"application-preview": previewRole, "web-test": previewRole, "application-active": liveRole,
		"application-service": noRole, "live-preview": noRole, "previewer": noRole,
	} {
		if got := nameRole(name); got != want {
			t.Errorf("nameRole(%s) = %d, want %d", name, got, want)
		}
	}
}
