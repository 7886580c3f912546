package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSteppedRefusedBeforeCommitting: what stops a hand-over is found
// before the first step's commit (exit 2, nothing pushed): a flow-style
// spec.traffic that cannot take canaryColor, a plain canary that sends to
// a Service other than the preview Service; and a share the idle color's
// replicas cannot carry is refused (exit 3) before it is committed.
func TestSteppedRefusedBeforeCommitting(t *testing.T) {
	// A kubeconfig that names an unreachable server: nothing here may
	// contact the cluster.
	kc := "--kubeconfig=" + filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(strings.TrimPrefix(kc, "--kubeconfig="), []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flow := newTrafficRepoWith(t, "  traffic: {weight: 0, nginx: {}}\n")
	if res := flow.run(t, "promote", "--steps", "50,100", kc); res.code != 2 || !strings.Contains(res.stderr, "block style") || flow.srv.Pushes() != 0 {
		t.Errorf("flow-style spec.traffic: exit %d, %d pushes\n%s", res.code, flow.srv.Pushes(), res.stderr)
	}

	plain := newGitopsRepo(t, "plain-canary", 0)
	data := plain.file(t, "service-preview.yaml")
	plain.handCommit(t, "service-preview.yaml", data, data+"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: application-green\n  namespace: production\nspec:\n  selector:\n    app: my-application\n    version: green\n  ports:\n    - port: 80\n      targetPort: 8080\n")
	plain.handCommit(t, "ingress.yaml", "                name: application-service-preview", "                name: application-green")
	before := plain.commits(t)
	if res := plain.run(t, "promote", "--steps", "50,100", kc, "--service", "application-service"); res.code != 2 || !strings.Contains(res.stderr, "not to the preview Service") || plain.commits(t) != before {
		t.Errorf("a plain canary to a color's Service: exit %d\n%s", res.code, res.stderr)
	}
	// shift alone still works on it: it sends to the idle color.
	plain.mustRun(t, "shift", "--weight", "10", "--service", "application-service")

	thin := newTrafficRepoWith(t, "  idleReplicas: 1\n  traffic:\n    weight: 0\n    nginx: {}\n")
	before = thin.commits(t)
	for _, w := range []string{"50", "100"} {
		if res := thin.run(t, "shift", "--weight", w); res.code != 3 || !strings.Contains(res.stderr, "scale-idle --replicas") || thin.commits(t) != before {
			t.Errorf("shift %s%% onto 1 of 3 replicas: exit %d\n%s", w, res.code, res.stderr)
		}
	}
	thin.mustRun(t, "shift", "--weight", "30") // 30% on 1 pod: less than a live pod's 33%
	thin.mustRun(t, "shift", "--weight", "50", "--force")
}

// TestPlainCanaryOnlyStopsShift: a plain folder whose canaries bgrender
// cannot shift (two for one app, a canary-weight-total other than 100)
// still deploys, promotes and scales as before; shift says why it cannot.
// A canary annotation written "True" is read as ingress-nginx reads it.
func TestPlainCanaryOnlyStopsShift(t *testing.T) {
	second := "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: application-ingress-canary-www\n  namespace: production\n" +
		"  annotations:\n    nginx.ingress.kubernetes.io/canary: \"true\"\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: www.example.com\n" +
		"      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: application-service-preview\n                port:\n                  number: 80\n"
	for _, c := range []struct{ name, old, new, want string }{
		{"two canaries", "", second, "several canary Ingresses"},
		{"weight total", "nginx.ingress.kubernetes.io/canary-by-header: x-color", "nginx.ingress.kubernetes.io/canary-weight-total: \"10000\"", "canary-weight-total"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newGitopsRepo(t, "plain-canary", 0)
			if c.old == "" {
				ing := r.file(t, "ingress.yaml")
				r.handCommit(t, "ingress.yaml", ing, ing+"\n"+c.new)
			} else {
				r.handCommit(t, "ingress.yaml", c.old, c.new)
			}
			if res := r.run(t, "shift", "--weight", "10"); res.code != 2 || !strings.Contains(res.stderr, c.want) {
				t.Errorf("shift: exit %d\n%s", res.code, res.stderr)
			}
			r.mustRun(t, "deploy", "--image", "myapp:v2")
			r.mustRun(t, "promote")
			r.mustRun(t, "scale-idle", "--replicas", "1")
		})
	}
	r := newGitopsRepo(t, "plain-canary", 0)
	r.handCommit(t, "ingress.yaml", `nginx.ingress.kubernetes.io/canary: "true"`, `nginx.ingress.kubernetes.io/canary: "True"`)
	r.mustRun(t, "shift", "--weight", "10")
	wantLines(t, r.lastDiff(t),
		`-    nginx.ingress.kubernetes.io/canary-weight: "0" # the idle color's share, in percent`,
		`+    nginx.ingress.kubernetes.io/canary-weight: "10" # the idle color's share, in percent`)
}
