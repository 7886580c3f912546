package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
)

const chartStream = `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: "example/web:1"}]
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

const statefulSet = `---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: web, role: db}}
  template:
    metadata: {labels: {app: web, role: db}}
    spec: {containers: [{name: db, image: "example/db:1"}]}
`

// TestPostrenderServiceSkip: a Service marked bgrender.io/skip is left as
// it is, so a Service that also selects other pods can stay.
func TestPostrenderServiceSkip(t *testing.T) {
	// --skip NAME does what the annotation does, for a chart that cannot
	// be annotated.
	if res := runCLI(t, chartStream+statefulSet, "postrender", "--skip", "web-unrelated", "--skip", "web"); res.code != 0 ||
		strings.Contains(res.stdout, "web-preview") || strings.Contains(res.stdout, "name: web-green") {
		t.Errorf("--skip web: exit %d, %s", res.code, res.stderr)
	}
	in := strings.Replace(chartStream, "  name: web\nspec:\n  selector: {", "  name: web\n  annotations: {bgrender.io/skip: \"true\"}\nspec:\n  selector: {", 1) + statefulSet
	res := runCLI(t, in, "postrender")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "  selector: {app: web}\n") || strings.Contains(res.stdout, "web-preview") || !strings.Contains(res.stdout, "name: web-green") {
		t.Errorf("the skipped Service changed, or the Deployment did not:\n%s", res.stdout)
	}
}

func TestPostrenderStream(t *testing.T) {
	res := runCLI(t, chartStream, "postrender", "--color-label", "version", "--active", "green")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"name: web-blue", "name: web-green", "name: web-preview", "version: green", "bgrender.io/active-color: green"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestFlagsOnlyIsPostrender: Helm 3 starts the post-renderer with only
// --post-renderer-args, so flags without a command mean postrender.
func TestFlagsOnlyIsPostrender(t *testing.T) {
	res := runCLI(t, chartStream, "--color-label", "version")
	if res.code != 0 || !strings.Contains(res.stdout, "version: blue") {
		t.Fatalf("exit %d, stderr %s", res.code, res.stderr)
	}
}

// TestPostrenderBadInput extends the bad-input table to manifest streams:
// exit 2, a message naming the document and line, nothing on stdout.
func TestPostrenderBadInput(t *testing.T) {
	tests := []struct {
		name, in string
		args     []string
		want     string
	}{
		{"empty input", "", nil, "no manifests on standard input"},
		{"whitespace only", "\n\n---\n", nil, "no manifests on standard input"},
		{"bad YAML", chartStream + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [}\n", nil, "document 3: line 27: invalid YAML"},
		{"tab indentation", chartStream + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n", nil, "document 3: line 28: invalid YAML"},
		{"two Deployments without --- between them", chartStream[:strings.Index(chartStream, "---\n# Source: web/templates/service.yaml")] +
			strings.ReplaceAll(strings.TrimPrefix(chartStream[:strings.Index(chartStream, "---\n# Source: web/templates/service.yaml")], "---\n"), "web", "api") +
			chartStream[strings.Index(chartStream, "---\n# Source: web/templates/service.yaml"):], nil,
			"stdin: document 1: line 16: apiVersion: duplicate key (first defined on line 3); two documents without a --- line between them?"},
		{"duplicate key in a flow mapping", strings.Replace(chartStream, "      labels: {app: web}", "      labels: {app: web, app: api}", 1), nil,
			"stdin: document 1: line 12: spec.template.metadata.labels.app: duplicate key (first defined on line 12)"},
		{"duplicate key in a list item", strings.Replace(chartStream, `[{name: web, image: "example/web:1"}]`, "\n        - name: web\n          image: example/web:1\n          image: example/web:2", 1), nil,
			"stdin: document 1: line 17: spec.template.spec.containers[0].image: duplicate key (first defined on line 16)"},
		{"document with no kind", chartStream + "---\napiVersion: v1\nmetadata: {name: x}\n", nil, "document 3 (line 25): kind: required"},
		{"document with no apiVersion", "kind: ConfigMap\nmetadata: {name: x}\n", nil, "apiVersion: required"},
		{"deployment without selector", strings.Replace(chartStream, "  selector:\n    matchLabels: {app: web}\n", "", 1), nil, `document 1 (line 3, Deployment "web"): spec.selector: required`},
		{"service name too long for -preview", strings.Replace(chartStream, "  name: web\nspec:\n  selector: {", "  name: "+strings.Repeat("w", 56)+"\nspec:\n  selector: {", 1), nil, `document 2 (line 17, Service "` + strings.Repeat("w", 56) + `"): the preview Service ` + strings.Repeat("w", 56) + `-preview would have 64 characters`},
		{"preview name taken", chartStream + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web-preview}\nspec: {selector: {app: other}, ports: [{port: 8080}]}\n", nil,
			`document 2 (line 17, Service "web"): bgrender would add Service web-preview, but the chart has one of that name (document 3 (line 25, Service "web-preview"))`},
		{"color name taken", chartStream + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-blue}\nspec: {selector: {matchLabels: {app: x}}, template: {metadata: {labels: {app: x}}, spec: {containers: [{name: x, image: x}]}}}\n", nil,
			`bgrender would add Deployment web-blue, but the chart has one of that name`},
		{"network policy name taken", chartStream + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-blue}\nspec: {podSelector: {}}\n", []string{"--network-policy"},
			`bgrender would add NetworkPolicy web-blue, but the chart has one of that name (document 3 (line 25, NetworkPolicy "web-blue"))`},
		{"PDB also selects a StatefulSet", strings.Replace(chartStream, "  name: web\nspec:\n  selector: {", "  name: web\n  annotations: {bgrender.io/skip: \"true\"}\nspec:\n  selector: {", 1) + statefulSet +
			"---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: all}\nspec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n", nil,
			`document 4 (line 36, PodDisruptionBudget "all"): selects the pods of document 3 (line 26, StatefulSet "db")`},
		{"service also selects a StatefulSet", chartStream + statefulSet, nil,
			`document 2 (line 17, Service "web"): selects the pods of document 3 (line 25, StatefulSet "db"), which are not made blue/green, and of Deployment web, which are: routing the Service to one color would drop db's pods; annotate the Service with bgrender.io/skip: "true"`},
		{"a scalar document", "hello\n", nil, "document 1 (line 1): expected a Kubernetes object"},
		{"binary garbage", "\x00\x01\x02\xff", nil, "document 1"},
		{"list items not a list", "apiVersion: v1\nkind: List\nitems: 3\n", nil, "items: expected a list"},
		{"bad --active", chartStream, []string{"--active", "purple"}, `--active "purple": expected blue or green`},
		{"bad --select", chartStream, []string{"--select", "a in (b"}, "--select"},
		{"both sources", chartStream, []string{"--from-release", "web", "--from-cluster"}, "use one of --from-release, --from-cluster, --from-dir and --from-file"},
		{"an argument", chartStream, []string{"file.yaml"}, "takes no arguments"},
		{"bad --color-label", chartStream, []string{"--color-label", "Bad Key!"}, `--color-label "Bad Key!" is not a label key`},
		{"bad --quota-name", chartStream, []string{"--quota", "--quota-name", "BAD NAME"}, `--quota-name "BAD NAME" is not a valid name`},
		{"missing config", chartStream, []string{"--config", "no-such-config.yaml"}, "no-such-config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, tt.in, append([]string{"postrender"}, tt.args...)...)
			if res.code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", res.code, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout must be empty, got:\n%s", res.stdout)
			}
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, res.stderr)
			}
			if strings.Contains(res.stderr, "goroutine ") {
				t.Errorf("stack trace:\n%s", res.stderr)
			}
		})
	}
}

func TestPostrenderConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "bgrender-postrender.yaml")
	if err := os.WriteFile(good, []byte("apiVersion: bgrender.io/v1alpha1\nkind: PostRenderConfig\ncolorLabel: version\nactive: green\nnetworkPolicy: {}\nquota: {name: web-quota}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, chartStream, "postrender", "--config", good)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"version: green", "kind: NetworkPolicy", "name: web-quota"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A flag wins over the file.
	res = runCLI(t, chartStream, "postrender", "--config", good, "--active", "blue")
	if !strings.Contains(res.stdout, "bgrender.io/active-color: blue") {
		t.Errorf("--active did not win over the config file")
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("colorLabel: version\nactiv: green\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, chartStream, "postrender", "--config", bad)
	if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "bad.yaml:2: activ: unknown field") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming bad.yaml:2", res.code, res.stderr)
	}
}

func TestHelmPluginManifest(t *testing.T) {
	res := runCLI(t, "", "helm-plugin", "print")
	if res.code != 0 {
		t.Fatal(res.stderr)
	}
	shipped, err := os.ReadFile("../../plugins/bgrender/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if goldenfile.Update() {
		if err := os.WriteFile("../../plugins/bgrender/plugin.yaml", []byte(res.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if string(shipped) != res.stdout {
		t.Errorf("plugins/bgrender/plugin.yaml is out of date: run go test ./cmd/bgrender -update")
	}
	for _, want := range []string{"type: postrenderer/v1", "runtime: subprocess", "- command: bgrender", "- postrender"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plugin.yaml lacks %q", want)
		}
	}

	dir := t.TempDir()
	res = runCLI(t, "", "helm-plugin", "install", "--plugins-dir", dir)
	if res.code != 0 {
		t.Fatalf("install: %s", res.stderr)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "bgrender", "plugin.yaml"))
	if err != nil || !strings.Contains(string(manifest), "command: ${HELM_PLUGIN_DIR}/bgrender") {
		t.Errorf("installed plugin.yaml: %v\n%s", err, manifest)
	}
	if _, err := os.Stat(filepath.Join(dir, "bgrender", "bgrender")); err != nil {
		t.Errorf("the plugin does not link to the bgrender binary: %v", err)
	}
	if res := runCLI(t, "", "helm-plugin", "frob"); res.code != 2 {
		t.Errorf("unknown action: exit %d", res.code)
	}
	// A --command that would not survive plugin.yaml is refused.
	for _, c := range []string{"", "has space", "x\ny: z", `a"b`} {
		if res := runCLI(t, "", "helm-plugin", "print", "--command", c); res.code != 2 || res.stdout != "" {
			t.Errorf("--command %q: exit %d, stdout %q", c, res.code, res.stdout)
		}
	}
}

// TestPostrenderWarnsOfPolicyGaps: as render does for a spec, the
// post-renderer warns (stderr, exit 0) when outside clients are admitted
// without --pod-cidr, and when a Gateway API route's controller is left at
// the ingress-nginx default.
func TestPostrenderWarnsOfPolicyGaps(t *testing.T) {
	chart := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1", ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {parentRefs: [{name: public}], rules: [{backendRefs: [{name: web, port: 80}]}]}
`
	res := runCLI(t, chart, "postrender", "--network-policy", "--namespace", "shop")
	if res.code != 0 || res.stdout == "" {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"warning: a LoadBalancer or NodePort Service of the chart", "--pod-cidr", "warning: HTTPRoute web: the policies admit its controller from namespace ingress-nginx"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if res := runCLI(t, strings.Replace(chart, "type: LoadBalancer, ", "", 1), "postrender", "--network-policy", "--namespace", "shop", "--pod-cidr", "10.244.0.0/16"); strings.Contains(res.stderr, "pod-cidr") {
		t.Errorf("warned with --pod-cidr given:\n%s", res.stderr)
	}
}
