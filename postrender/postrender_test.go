package postrender_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/spec"
)

// stream is a Helm 3 style stream: a Deployment and its Service, and
// documents that must pass through byte for byte.
const stream = `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
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
          image: "example/web:1.0"   # the image
          resources: {requests: {cpu: 100m, memory: 64Mi}}
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
    - port: 80
      nodePort: 30080
---
# Source: web/templates/configmap.yaml
# A comment before the object.
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings     # trailing comment
  annotations: {"quoted key": 'single ''quoted'''}
data:
  A: "0042"
  B: 'yes'
  C: |
    literal
      block
---
# Source: web/templates/other-service.yaml
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
`

func run(t *testing.T, in string, opts postrender.Options) string {
	t.Helper()
	out, err := postrender.Run(context.Background(), []byte(in), opts)
	if err != nil {
		t.Fatalf("postrender: %v", err)
	}
	return string(out)
}

// docs parses a stream into objects by kind/name.
func docs(t *testing.T, out string) map[string]*kyaml.RNode {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*kyaml.RNode{}
	for _, n := range nodes {
		m[n.GetKind()+"/"+n.GetName()] = n
	}
	return m
}

func get(t *testing.T, n *kyaml.RNode, path string) string {
	t.Helper()
	s, err := n.GetString(path)
	if err != nil {
		t.Fatalf("%s %s: %s: %v", n.GetKind(), n.GetName(), path, err)
	}
	return s
}

func TestUntouchedDocumentsKeepTheirBytes(t *testing.T) {
	out := run(t, stream, postrender.Options{})
	for _, name := range []string{"configmap.yaml", "other-service.yaml"} {
		start := strings.Index(stream, "---\n# Source: web/templates/"+name)
		end := strings.Index(stream[start+4:], "\n---\n")
		doc := stream[start:]
		if end >= 0 {
			doc = stream[start : start+4+end+1]
		}
		if !strings.Contains(out, doc) {
			t.Errorf("%s did not pass through byte for byte:\nwant contained:\n%s\ngot:\n%s", name, doc, out)
		}
	}
}

func TestDeploymentBecomesBlueAndGreen(t *testing.T) {
	objs := docs(t, run(t, stream, postrender.Options{}))
	if _, ok := objs["Deployment/web"]; ok {
		t.Fatal("the original Deployment is still there")
	}
	for _, c := range []string{"blue", "green"} {
		d := objs["Deployment/web-"+c]
		if d == nil {
			t.Fatalf("no Deployment web-%s", c)
		}
		for _, path := range []string{"metadata.labels.bgrender\\.io/color", "spec.selector.matchLabels.bgrender\\.io/color", "spec.template.metadata.labels.bgrender\\.io/color"} {
			if got := get(t, d, path); got != c {
				t.Errorf("web-%s %s = %q", c, path, got)
			}
		}
		if got := get(t, d, "spec.template.spec.containers.[name=web].image"); got != "example/web:1.0" {
			t.Errorf("image %q", got)
		}
	}
	// Nothing else differs between the two.
	blue, green := objs["Deployment/web-blue"].MustString(), objs["Deployment/web-green"].MustString()
	if strings.ReplaceAll(blue, "blue", "green") != green {
		t.Errorf("blue and green differ in more than the color:\n%s\n---\n%s", blue, green)
	}
	if !strings.Contains(blue, "# the image") {
		t.Errorf("comments inside the Deployment were lost")
	}
}

func TestServiceRoutesToActiveAndPreviewToIdle(t *testing.T) {
	for _, active := range []spec.Color{spec.Blue, spec.Green} {
		objs := docs(t, run(t, stream, postrender.Options{Active: active}))
		main, preview := objs["Service/web"], objs["Service/web-preview"]
		if main == nil || preview == nil {
			t.Fatalf("Services: %v", objs)
		}
		if got := get(t, main, "spec.selector.bgrender\\.io/color"); got != string(active) {
			t.Errorf("active %s: main selects %s", active, got)
		}
		if got := get(t, preview, "spec.selector.bgrender\\.io/color"); got != string(active.Other()) {
			t.Errorf("active %s: preview selects %s", active, got)
		}
		if get(t, main, "metadata.annotations.bgrender\\.io/active-color") != string(active) ||
			get(t, main, "metadata.annotations.bgrender\\.io/previous-color") != string(active.Other()) {
			t.Errorf("color annotations: %v", main.GetAnnotations())
		}
		if get(t, preview, "spec.type") != "ClusterIP" || strings.Contains(preview.MustString(), "nodePort") {
			t.Errorf("the preview must be a plain ClusterIP Service:\n%s", preview.MustString())
		}
		if !strings.Contains(main.MustString(), "nodePort: 30080") {
			t.Errorf("the main Service lost its nodePort")
		}
		if db := objs["Service/db"]; db == nil || strings.Contains(db.MustString(), "color") {
			t.Errorf("a Service of other pods was changed")
		}
	}
}

func TestColorLabelAndSelect(t *testing.T) {
	objs := docs(t, run(t, stream, postrender.Options{ColorLabel: "version"}))
	if get(t, objs["Service/web"], "spec.selector.version") != "blue" {
		t.Errorf("custom color label not used")
	}
	sel, _ := labels.Parse("app=other")
	out := run(t, stream, postrender.Options{Select: sel})
	if out != stream {
		t.Errorf("with no Deployment selected the stream must pass through unchanged")
	}
	skipped := strings.Replace(stream, "  labels: {app: web}\n", "  labels: {app: web}\n  annotations: {bgrender.io/skip: \"true\"}\n", 1)
	if out := run(t, skipped, postrender.Options{}); out != skipped {
		t.Errorf("bgrender.io/skip did not opt the Deployment out")
	}
}

// memory is an in-memory previous release for the carry-forward rules;
// the real sources (Helm's release storage, the live cluster) are tested
// end to end against a real API server in e2e.
type memory struct {
	deployments map[string]string
	active      spec.Color
}

func (m memory) Deployment(_ context.Context, ns, name string) (*kyaml.RNode, error) {
	if s, ok := m.deployments[ns+"/"+name]; ok {
		return kyaml.Parse(s)
	}
	return nil, nil
}

func (m memory) ActiveColor(context.Context, string, string) (spec.Color, error) {
	return m.active, nil
}

func TestUpgradeGoesToIdleColor(t *testing.T) {
	first := docs(t, run(t, stream, postrender.Options{}))
	prev := memory{
		deployments: map[string]string{
			"/web-blue":  first["Deployment/web-blue"].MustString(),
			"/web-green": first["Deployment/web-green"].MustString(),
		},
		active: spec.Green,
	}
	upgraded := strings.Replace(stream, "example/web:1.0", "example/web:2.0", 1)
	out := run(t, upgraded, postrender.Options{Previous: prev})
	objs := docs(t, out)
	image := func(c string) string {
		return get(t, objs["Deployment/web-"+c], "spec.template.spec.containers.[name=web].image")
	}
	// green was live in the previous release: it keeps 1.0, blue gets 2.0.
	if image("green") != "example/web:1.0" || image("blue") != "example/web:2.0" {
		t.Errorf("green=%s blue=%s; want the active green kept at 1.0 and idle blue on 2.0", image("green"), image("blue"))
	}
	if get(t, objs["Service/web"], "spec.selector.bgrender\\.io/color") != "green" {
		t.Errorf("the Service must keep routing to green")
	}
	// Flipping --active is the promotion: the Service routes to blue, and
	// both colors keep what they ran, so green, live until now, is still
	// there to roll back to; the render goes nowhere.
	promoted := strings.Replace(stream, "example/web:1.0", "example/web:3.0", 1)
	prev.deployments["/web-blue"] = objs["Deployment/web-blue"].MustString()
	flipped := docs(t, run(t, promoted, postrender.Options{Previous: prev, Active: spec.Blue}))
	if get(t, flipped["Service/web"], "spec.selector.bgrender\\.io/color") != "blue" || get(t, flipped["Service/web-preview"], "spec.selector.bgrender\\.io/color") != "green" {
		t.Errorf("--active=blue did not flip the Services")
	}
	flippedImage := func(c string) string {
		return get(t, flipped["Deployment/web-"+c], "spec.template.spec.containers.[name=web].image")
	}
	if flippedImage("blue") != "example/web:2.0" || flippedImage("green") != "example/web:1.0" {
		t.Errorf("promotion: blue=%s green=%s; want both kept (blue 2.0, green 1.0)", flippedImage("blue"), flippedImage("green"))
	}
	// --target puts the render on a color even then.
	targeted := docs(t, run(t, promoted, postrender.Options{Previous: prev, Active: spec.Blue, Target: spec.Green}))
	if got := get(t, targeted["Deployment/web-green"], "spec.template.spec.containers.[name=web].image"); got != "example/web:3.0" {
		t.Errorf("--target=green during a promotion: green runs %s, want 3.0", got)
	}
	// The same --active again is no longer a promotion: the render goes to
	// the idle color, green.
	prev.active = spec.Blue
	again := docs(t, run(t, promoted, postrender.Options{Previous: prev, Active: spec.Blue}))
	if got := get(t, again["Deployment/web-green"], "spec.template.spec.containers.[name=web].image"); got != "example/web:3.0" {
		t.Errorf("after the promotion, the next upgrade put %s on idle green, want 3.0", got)
	}
	prev.active = spec.Green
	if again := run(t, upgraded, postrender.Options{Previous: prev}); again != out {
		t.Errorf("same input and previous release gave different output")
	}
}

func TestNetworkPolicyAndQuota(t *testing.T) {
	objs := docs(t, run(t, stream, postrender.Options{NetworkPolicy: &postrender.NetworkPolicyOptions{}, Quota: &postrender.QuotaOptions{}}))
	for _, c := range []string{"blue", "green"} {
		np := objs["NetworkPolicy/web-"+c]
		if np == nil || get(t, np, "spec.podSelector.matchLabels.bgrender\\.io/color") != c {
			t.Fatalf("no NetworkPolicy for %s", c)
		}
	}
	q := objs["ResourceQuota/bgrender"]
	if q == nil {
		t.Fatal("no ResourceQuota")
	}
	// 2 colors × 2 replicas × 100m, 64Mi, plus 25%.
	if get(t, q, "spec.hard.requests\\.cpu") != "500m" || get(t, q, "spec.hard.requests\\.memory") != "320Mi" || get(t, q, "spec.hard.pods") != "5" {
		t.Errorf("quota:\n%s", q.MustString())
	}
	// A Deployment that selects its pods with matchExpressions only: the
	// policy selects them with those, plus the color.
	exprs := strings.Replace(stream, "    matchLabels:\n      app: web\n", "    matchExpressions: [{key: app, operator: In, values: [web]}]\n", 1)
	np := docs(t, run(t, exprs, postrender.Options{NetworkPolicy: &postrender.NetworkPolicyOptions{Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.20.0.0/16"}}}}}}}))["NetworkPolicy/web-green"]
	for _, path := range []string{"spec.podSelector", "spec.ingress.0.from.0.podSelector", "spec.egress.1.to.0.podSelector"} {
		if get(t, np, path+".matchExpressions.0.key") != "app" || get(t, np, path+".matchLabels.bgrender\\.io/color") != "green" {
			t.Errorf("%s does not select the Deployment's pods of green:\n%s", path, np.MustString())
		}
	}
	// An HPA that may scale each color to 4: the quota counts 4 per color.
	withHPA := stream + "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 2\n  maxReplicas: 4\n"
	q = docs(t, run(t, withHPA, postrender.Options{Quota: &postrender.QuotaOptions{}}))["ResourceQuota/bgrender"]
	// 2 colors × 4 replicas × 100m, 64Mi, plus 25%.
	if get(t, q, "spec.hard.requests\\.cpu") != "1" || get(t, q, "spec.hard.requests\\.memory") != "640Mi" || get(t, q, "spec.hard.pods") != "10" {
		t.Errorf("quota with an HPA up to 4:\n%s", q.MustString())
	}
}

func TestHelm4FilenameAnnotationIsKept(t *testing.T) {
	in := strings.ReplaceAll(stream, "# Source: web/templates/deployment.yaml\n", "")
	in = strings.Replace(in, "  labels: {app: web}\n", "  labels: {app: web}\n  annotations:\n    postrenderer.helm.sh/postrender-filename: web/templates/deployment.yaml\n", 1)
	objs := docs(t, run(t, in, postrender.Options{}))
	for _, c := range []string{"blue", "green"} {
		if got := objs["Deployment/web-"+c].GetAnnotations()[postrender.AnnotationHelm4Filename]; got != "web/templates/deployment.yaml" {
			t.Errorf("web-%s lost the Helm 4 filename annotation: %q", c, got)
		}
	}
}

func TestHooksPassThrough(t *testing.T) {
	hook := "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: hooked\n  annotations: {helm.sh/hook: pre-install}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n"
	out := run(t, stream+hook, postrender.Options{})
	if !strings.HasSuffix(out, hook) {
		t.Errorf("a hook was changed:\n%s", out)
	}
}

func TestBadStreams(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "no manifests"},
		{"only comments", "---\n# Source: x\n---\n", "no manifests"},
		{"bad YAML", "---\napiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\n  kind: [\n", "document 2: line 6: invalid YAML"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "document 1 (line 1): kind: required"},
		{"no apiVersion", "kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion: required"},
		{"scalar document", "just text\n", "expected a Kubernetes object"},
		{"list document", "- a\n- b\n", "expected a Kubernetes object"},
		{"deployment without selector", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {}}\n", `Deployment "a"): spec.selector: required`},
		{"deployment without spec", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n", "spec.selector: required"},
		{"deployment without name", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {}\nspec: {selector: {matchLabels: {a: b}}}\n", "metadata.name: required"},
		{"selector not a map", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {selector: {matchLabels: [a]}}\n", "spec.selector.matchLabels: expected a mapping"},
		{"already colored", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b, bgrender.io/color: blue}}}}\n", "already carries the color label"},
		{"list items not a list", "apiVersion: v1\nkind: List\nitems: {a: b}\n", "items: expected a list"},
		{"list item without kind", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {name: a}\n", "document 1 (line 4): kind: required"},
		{"two documents in one", "apiVersion: v1\nkind: ConfigMap\n...\n--- \n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := postrender.Run(context.Background(), []byte(tt.in), postrender.Options{})
			if tt.want == "" {
				return // only: no panic
			}
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if out != nil {
				t.Errorf("partial output with an error")
			}
			if exitcode.Of(err) != 2 {
				t.Errorf("exit code %d, want 2", exitcode.Of(err))
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "stdin: ") {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func FuzzRun(f *testing.F) {
	f.Add([]byte(stream))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: a}\n  spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}}}\n"))
	f.Add([]byte("---\n--- \n...\n"))
	f.Add([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: a, name: b}\napiVersion: v1\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {x: y}}\ndata:\n  <<: *l\n  x: z\n  <<: *l\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := postrender.Run(context.Background(), in, postrender.Options{})
		if err != nil {
			var coded *exitcode.Error
			if !errors.As(err, &coded) || out != nil {
				t.Fatalf("error without exit code, or partial output: %v", err)
			}
			return
		}
		again, err := postrender.Run(context.Background(), in, postrender.Options{})
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("not deterministic")
		}
	})
}

// TestAliasesAreExpanded: YAML anchors, aliases and << merge keys, which
// Helm and the API server accept, are read through; a bomb is refused.
func TestAliasesAreExpanded(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web}
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels:
        <<: *labels
        tier: front
    spec:
      containers: [{name: web, image: "example/web:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
`
	objs := docs(t, run(t, in, postrender.Options{}))
	d := objs["Deployment/web-green"]
	if d == nil || get(t, d, "spec.selector.matchLabels.bgrender\\.io/color") != "green" || get(t, d, "spec.template.metadata.labels.app") != "web" || get(t, d, "spec.template.metadata.labels.tier") != "front" {
		t.Fatalf("aliases not read through:\n%v", objs)
	}
	if get(t, objs["Service/web"], "spec.selector.bgrender\\.io/color") != "blue" {
		t.Error("the Service does not select the Deployment's pods")
	}

	// A << merge key without any alias.
	merge := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata:\n      <<: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n"
	if d := docs(t, run(t, merge, postrender.Options{}))["Deployment/x-blue"]; get(t, d, "spec.template.metadata.labels.a") != "b" {
		t.Errorf("merge key not merged:\n%s", d.MustString())
	}

	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += fmt.Sprintf("  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	if _, err := postrender.Run(context.Background(), []byte(bomb), postrender.Options{}); err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Errorf("alias bomb: %v", err)
	}
}

// TestRenamedFieldsKeepComments: a value that bgrender rewrites (a name,
// a label) keeps the comment on its line.
func TestRenamedFieldsKeepComments(t *testing.T) {
	in := strings.Replace(stream, "  name: web\n  labels: {app: web}", "  name: web  # the web tier\n  labels: {app: web}", 1)
	out := run(t, in, postrender.Options{})
	if !strings.Contains(out, "name: web-blue # the web tier") || !strings.Contains(out, "name: web-green # the web tier") {
		t.Errorf("the comment was lost:\n%s", out)
	}
}

// TestKeptColorLeavesReplicasToTheAutoscaler: when the chart's Deployment
// has no replicas (an HPA scales it), the color kept from the live cluster
// does not pin the count it had.
func TestKeptColorLeavesReplicasToTheAutoscaler(t *testing.T) {
	noReplicas := strings.Replace(stream, "  replicas: 2\n", "", 1)
	live := docs(t, run(t, stream, postrender.Options{}))["Deployment/web-green"].MustString() // replicas: 2
	prev := memory{deployments: map[string]string{"/web-green": live}, active: spec.Green}
	objs := docs(t, run(t, noReplicas, postrender.Options{Previous: prev}))
	if n, _ := objs["Deployment/web-green"].Pipe(kyaml.Lookup("spec", "replicas")); n != nil {
		t.Errorf("the kept green pins replicas: %s", objs["Deployment/web-green"].MustString())
	}
}

// TestUnknownNamespaceIsNotGuessed: Helm does not tell the post-renderer
// the release namespace. A Service without a namespace that selects the
// pods of a Deployment that names one (or the reverse) may or may not be
// in the same namespace: refused with the way out (--namespace), which
// then routes it.
func TestUnknownNamespaceIsNotGuessed(t *testing.T) {
	mixed := strings.Replace(stream, "  name: web\n  labels: {app: web}", "  name: web\n  namespace: shop\n  labels: {app: web}", 1)
	_, err := postrender.Run(context.Background(), []byte(mixed), postrender.Options{})
	if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "pass it (--post-renderer-args --namespace=NAMESPACE)") {
		t.Fatalf("err = %v", err)
	}
	objs := docs(t, run(t, mixed, postrender.Options{Namespace: "shop"}))
	if objs["Service/web-preview"] == nil || get(t, objs["Service/web"], "spec.selector.bgrender\\.io/color") != "blue" {
		t.Fatalf("with --namespace the Service was not routed:\n%v", objs)
	}
	// Every object names its namespace, or none does: nothing to guess.
	if _, err := postrender.Run(context.Background(), []byte(stream), postrender.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeMustNotStrandTheLiveColor: the live color's Deployment is
// kept as the previous release ran it, while the Service comes from the
// new render; a chart that now selects a label, or targets a port, that
// the kept pods lack is refused (exit 2) rather than routing live traffic
// to no pods. --target=<live color> applies the change there too.
func TestUpgradeMustNotStrandTheLiveColor(t *testing.T) {
	first := docs(t, run(t, stream, postrender.Options{}))
	prev := memory{deployments: map[string]string{
		"/web-blue":  first["Deployment/web-blue"].MustString(),
		"/web-green": first["Deployment/web-green"].MustString(),
	}, active: spec.Blue}
	label := strings.NewReplacer("      labels:\n        app: web\n", "      labels:\n        app: web\n        tier: front\n",
		"  selector:\n    app: web\n", "  selector:\n    app: web\n    tier: front\n").Replace(stream)
	port := strings.NewReplacer("          resources:", "          ports: [{name: http, containerPort: 9090}]\n          resources:",
		"    - port: 80\n", "    - port: 80\n      targetPort: 9090\n").Replace(stream)
	for name, in := range map[string]string{"label": label, "port": port} {
		_, err := postrender.Run(context.Background(), []byte(in), postrender.Options{Previous: prev})
		if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "the Service would route live traffic to no pods") {
			t.Errorf("%s: err = %v", name, err)
		}
		if _, err := postrender.Run(context.Background(), []byte(in), postrender.Options{Previous: prev, Target: spec.Blue}); err != nil {
			t.Errorf("%s with --target=blue: %v", name, err)
		}
	}
	// An unchanged chart passes.
	if _, err := postrender.Run(context.Background(), []byte(stream), postrender.Options{Previous: prev}); err != nil {
		t.Fatal(err)
	}
}

// TestPromotionNeedsTheColorToHaveRun: promoting to a color that the
// previous release does not have would put this render live untested:
// refused, unless --target says so.
func TestPromotionNeedsTheColorToHaveRun(t *testing.T) {
	first := docs(t, run(t, stream, postrender.Options{}))
	prev := memory{deployments: map[string]string{"/web-blue": first["Deployment/web-blue"].MustString()}, active: spec.Blue}
	_, err := postrender.Run(context.Background(), []byte(stream), postrender.Options{Previous: prev, Active: spec.Green})
	if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "the previous release has no web-green") {
		t.Fatalf("err = %v", err)
	}
	if _, err := postrender.Run(context.Background(), []byte(stream), postrender.Options{Previous: prev, Active: spec.Green, Target: spec.Green}); err != nil {
		t.Fatal(err)
	}
}

// TestHookListPassesThrough: Helm takes a List with a hook annotation as a
// hook, items and all; it passes through untouched.
func TestHookListPassesThrough(t *testing.T) {
	hook := "---\napiVersion: v1\nkind: List\nmetadata:\n  annotations: {helm.sh/hook: pre-upgrade}\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: migrate}\n  spec: {selector: {matchLabels: {app: m}}, template: {metadata: {labels: {app: m}}, spec: {containers: [{name: m, image: m}]}}}\n"
	out := run(t, stream+hook, postrender.Options{})
	if !strings.HasSuffix(out, hook) || strings.Contains(out, "migrate-blue") {
		t.Errorf("the hook List changed:\n%s", out)
	}
}

// memoryObjects is memory that also has the previous HPAs and PDBs.
type memoryObjects struct {
	memory
	objects map[string]string // kind/namespace/name
}

func (m memoryObjects) Object(_ context.Context, kind, ns, name string) (*kyaml.RNode, error) {
	if s, ok := m.objects[kind+"/"+ns+"/"+name]; ok {
		return kyaml.Parse(s)
	}
	return nil, nil
}

// TestKeptColorKeepsItsAutoscalerAndBudget: the color that keeps its
// Deployment keeps its HPA and PDB as they were too; the color that gets
// the render gets the chart's.
func TestKeptColorKeepsItsAutoscalerAndBudget(t *testing.T) {
	hpa := "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 4\n"
	first := docs(t, run(t, stream+hpa, postrender.Options{}))
	prev := memoryObjects{
		memory: memory{deployments: map[string]string{
			"/web-blue":  first["Deployment/web-blue"].MustString(),
			"/web-green": first["Deployment/web-green"].MustString(),
		}, active: spec.Blue},
		objects: map[string]string{
			"HorizontalPodAutoscaler//web-blue":  first["HorizontalPodAutoscaler/web-blue"].MustString(),
			"HorizontalPodAutoscaler//web-green": first["HorizontalPodAutoscaler/web-green"].MustString(),
		},
	}
	next := strings.Replace(stream+hpa, "maxReplicas: 4", "maxReplicas: 9", 1)
	max := func(objs map[string]*kyaml.RNode, c string) string {
		n, err := objs["HorizontalPodAutoscaler/web-"+c].Pipe(kyaml.Lookup("spec", "maxReplicas"))
		if err != nil || n == nil {
			t.Fatalf("no maxReplicas for %s", c)
		}
		return n.YNode().Value
	}
	up := docs(t, run(t, next, postrender.Options{Previous: prev}))
	if max(up, "blue") != "4" || max(up, "green") != "9" {
		t.Errorf("upgrade: blue max %s (want 4, kept), green max %s (want 9)", max(up, "blue"), max(up, "green"))
	}
	promo := docs(t, run(t, next, postrender.Options{Previous: prev, Active: spec.Green}))
	if max(promo, "blue") != "4" || max(promo, "green") != "4" {
		t.Errorf("promotion: blue max %s, green max %s; want both kept at 4", max(promo, "blue"), max(promo, "green"))
	}
}

// TestAdoptionKeepsTheOldDeploymentOneUpgrade: the first upgrade of a
// release installed before bgrender keeps D running and its Service as it
// is, while D-blue and D-green start; the next upgrade drops D and routes
// the Service. No upgrade points the Service at pods that are starting
// while the old ones go away.
func TestAdoptionKeepsTheOldDeploymentOneUpgrade(t *testing.T) {
	plain := docs(t, stream) // the release as installed without bgrender
	prev := memory{deployments: map[string]string{"/web": plain["Deployment/web"].MustString()}}
	out := docs(t, run(t, stream, postrender.Options{Previous: prev}))
	if out["Deployment/web"] == nil || out["Deployment/web-blue"] == nil || out["Deployment/web-green"] == nil {
		t.Fatalf("adoption: want web, web-blue and web-green, got %v", out)
	}
	if out["Service/web-preview"] != nil || !strings.Contains(out["Service/web"].MustString(), "app: web") || strings.Contains(out["Service/web"].MustString(), "bgrender.io/color") {
		t.Fatalf("adoption changed the Service:\n%s", out["Service/web"].MustString())
	}
	prev.deployments["/web-blue"] = out["Deployment/web-blue"].MustString()
	prev.deployments["/web-green"] = out["Deployment/web-green"].MustString()
	next := docs(t, run(t, stream, postrender.Options{Previous: prev}))
	if next["Deployment/web"] != nil || next["Service/web-preview"] == nil || get(t, next["Service/web"], "spec.selector.bgrender\\.io/color") != "blue" {
		t.Fatalf("the upgrade after the adoption: %v", next)
	}
}
