package promote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// TestLayoutNamespace: a managed folder's namespace is its spec's
// metadata.namespace; a plain folder's is that of its Service and
// Deployments, those without one left out; two different ones are
// invalid input naming both and where, and none is "".
func TestLayoutNamespace(t *testing.T) {
	managed := func(t *testing.T, meta string) string {
		dir := t.TempDir()
		write(t, dir, SpecFile, "apiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: web"+meta+"}\nspec:\n  blue: {image: web:1}\n  green: {image: web:1}\n  ports: [{name: http, containerPort: 8080, servicePort: 80}]\n")
		return dir
	}
	tests := map[string]struct {
		dir            func(t *testing.T) string
		wantNS, wantIn string
		wantErr        []string
	}{
		"managed": {dir: func(t *testing.T) string { return managed(t, ", namespace: production") },
			wantNS: "production", wantIn: "bgrender.yaml metadata.namespace"},
		"managed without a namespace": {dir: func(t *testing.T) string { return managed(t, "") }},
		"plain": {dir: copyPlain, wantNS: "production",
			wantIn: "service.yaml: Service application-service, deployment-blue.yaml: Deployment application-blue, deployment-green.yaml: Deployment application-green"},
		"plain, only the Service names one": {dir: func(t *testing.T) string {
			dir := copyPlain(t)
			replaceIn(t, dir, "deployment-blue.yaml", "  namespace: production\n", "")
			replaceIn(t, dir, "deployment-green.yaml", "  namespace: production\n", "")
			return dir
		}, wantNS: "production", wantIn: "service.yaml: Service application-service"},
		"plain without a namespace": {dir: func(t *testing.T) string {
			dir := copyPlain(t)
			for _, f := range []string{"service.yaml", "deployment-blue.yaml", "deployment-green.yaml"} {
				replaceIn(t, dir, f, "  namespace: production\n", "")
			}
			return dir
		}},
		"plain, namespaces disagree": {dir: func(t *testing.T) string {
			dir := copyPlain(t)
			replaceIn(t, dir, "deployment-green.yaml", "namespace: production", "namespace: staging")
			return dir
		}, wantErr: []string{"different namespaces: production (service.yaml: Service application-service, deployment-blue.yaml: Deployment application-blue) and staging (deployment-green.yaml: Deployment application-green)"}},
		"plain, another object elsewhere": {dir: func(t *testing.T) string {
			dir := copyPlain(t)
			write(t, dir, "config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: monitoring}\n")
			return dir
		}, wantNS: "production"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := openLayout(tt.dir(t), PlainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ns, in, err := l.namespace()
			if tt.wantErr != nil {
				if exitcode.Of(err) != exitcode.Invalid {
					t.Fatalf("err %v (exit %d), want invalid input", err, exitcode.Of(err))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ns != tt.wantNS || (tt.wantIn != "" && !strings.Contains(in, tt.wantIn)) {
				t.Errorf("namespace %q from %q, want %q from %q", ns, in, tt.wantNS, tt.wantIn)
			}
		})
	}
	// Actions that need no namespace still edit a folder whose manifests
	// disagree: only the gates ask.
	dir := copyPlain(t)
	replaceIn(t, dir, "deployment-green.yaml", "namespace: production", "namespace: staging")
	l, err := openLayout(dir, PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.setIdleReplicas(0); err != nil {
		t.Fatal(err)
	}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "deployment-green.yaml")); !strings.Contains(string(data), "replicas: 0") {
		t.Errorf("scale-idle did not edit the folder:\n%s", data)
	}
}
