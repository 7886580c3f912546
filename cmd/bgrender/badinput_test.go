package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a valid spec; the bad inputs below are small edits of it, so that
// each row shows exactly what is wrong.
const base = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata:
  name: web
  namespace: prod
spec:
  active: blue
  blue:
    image: example/web:1.0.0
  green:
    image: example/web:1.0.0
  replicas: 2
  ports:
    - name: http
      containerPort: 8080
      servicePort: 80
  healthCheck:
    path: /health
    port: http
  resources:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 256Mi}
  quota:
    enabled: true
    hard: {requests.cpu: "1", pods: "10"}
  drain:
    preStopSleepSeconds: 5
    terminationGracePeriodSeconds: 30
`

func edit(old, new string) string {
	if !strings.Contains(base, old) {
		panic("edit: base does not contain " + old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestBadInput(t *testing.T) {
	if res := runCLI(t, base, "validate", "-"); res.code != 0 {
		t.Fatalf("the base spec must be valid: %s", res.stderr)
	}
	tests := []struct {
		name  string
		input string
		want  []string // substrings of stderr, the first being the location
	}{
		{"empty file", "", []string{"app.yaml: no BlueGreenApp document found"}},
		{"only comments", "# nothing here\n---\n", []string{"app.yaml: no BlueGreenApp document found"}},
		{"binary garbage", "\x7fELF\x02\x01\x01\x00\x00\x00", []string{"app.yaml:1: not a YAML text file"}},
		{"invalid UTF-8", "kind: \xff\xfe\n", []string{"app.yaml:1: not a UTF-8 text file"}},
		{"truncated YAML", base[:strings.Index(base, "  ports:")] + "  ports:\n    - name: \"http\n", []string{"app.yaml:14:", "invalid YAML"}},
		{"unclosed flow mapping", edit("  replicas: 2\n", "  replicas: {a: 1\n"), []string{"app.yaml:", "invalid YAML"}},
		{"tab indentation", edit("  replicas: 2", "\treplicas: 2"), []string{"app.yaml:12: tab character in indentation"}},
		{"unknown field", edit("  replicas: 2", "  replicaz: 2"), []string{"app.yaml:12: spec.replicaz: unknown field", `did you mean "replicas"`}},
		{"unknown nested field", edit("      servicePort: 80", "      svcPort: 80"), []string{"app.yaml:16: spec.ports[0].svcPort: unknown field"}},
		{"wrong type string for integer", edit("containerPort: 8080", `containerPort: "8080"`), []string{"app.yaml:15: spec.ports[0].containerPort: expected integer"}},
		{"wrong type list for mapping", edit("  healthCheck:\n    path: /health\n    port: http", "  healthCheck: [a]"), []string{"app.yaml:17: spec.healthCheck: expected a mapping"}},
		{"wrong type mapping for string", edit("    image: example/web:1.0.0\n  green", "    image: {a: b}\n  green"), []string{"app.yaml:9: spec.blue.image: expected string"}},
		{"boolean for integer", edit("  replicas: 2", "  replicas: yes"), []string{"app.yaml:12: spec.replicas: expected integer"}},
		{"integer overflow", edit("  replicas: 2", "  replicas: 99999999999"), []string{"app.yaml:12: spec.replicas: integer 99999999999 out of range"}},
		{"duplicate key", edit("  replicas: 2", "  replicas: 2\n  replicas: 3"), []string{"app.yaml:13: spec.replicas: duplicate key (first defined on line 12)"}},
		{"duplicate key in a flow mapping", edit("  namespace: prod\n", "  namespace: prod\n  labels: {team: a, tier: web, team: b}\n"), []string{"app.yaml:6: metadata.labels.team: duplicate key (first defined on line 6)"}},
		{"two specs without --- between them", base + strings.Replace(base, "name: web", "name: api", 1), []string{"app.yaml:29: apiVersion: duplicate key (first defined on line 1); two documents without a --- line between them?"}},
		{"invalid color", edit("  active: blue", "  active: purple"), []string{"app.yaml:7: spec.active:", "expected blue or green"}},
		{"missing image", edit("  green:\n    image: example/web:1.0.0", "  green:\n    replicas: 1"), []string{"app.yaml:10: spec.green.image: required"}},
		{"malformed image", edit("  blue:\n    image: example/web:1.0.0", "  blue:\n    image: Example Web"), []string{"app.yaml:9: spec.blue.image:", "not a valid image reference"}},
		{"name too long", edit("  name: web", "  name: "+strings.Repeat("a", 56)), []string{"app.yaml:4: metadata.name:", "at most 55"}},
		{"name not DNS", edit("  name: web", "  name: Web_App"), []string{"app.yaml:4: metadata.name:", "DNS-1035"}},
		{"missing name", edit("  name: web\n", ""), []string{"app.yaml:", "metadata.name: required"}},
		{"probe on unknown port", edit("    port: http", "    port: metrics"), []string{"app.yaml:19: spec.healthCheck.port:", `"metrics" is not a port`}},
		{"negative replicas", edit("  replicas: 2", "  replicas: -3"), []string{"app.yaml:12: spec.replicas: must not be negative"}},
		{"quantity that does not parse", edit("cpu: 100m, memory", "cpu: 100 millicores, memory"), []string{"app.yaml:21: spec.resources.requests.cpu: invalid quantity"}},
		{"request above limit", edit("cpu: 100m, memory", "cpu: 900m, memory"), []string{"app.yaml:21: spec.resources.requests.cpu: request 900m is more than the limit 500m"}},
		{"quota too small for both colors", edit(`requests.cpu: "1"`, `requests.cpu: 300m`), []string{`app.yaml:25: spec.quota.hard["requests.cpu"]: 300m is less than the 500m that both colors need together, with 1 surge pod(s)`}},
		{"quota on undeclared resource", strings.Replace(edit(`pods: "10"`, `pods: "10", limits.memory: 1Gi`), "limits: {cpu: 500m, memory: 256Mi}", "limits: {cpu: 500m}", 1), []string{`app.yaml:25: spec.quota.hard["limits.memory"]: the quota limits limits.memory but spec.resources.limits.memory is not set`}},
		{"port out of range", edit("containerPort: 8080", "containerPort: 70000"), []string{"app.yaml:15: spec.ports[0].containerPort: 70000 is not a port number"}},
		{"no ports", edit("  ports:\n    - name: http\n      containerPort: 8080\n      servicePort: 80\n", "  ports: []\n"), []string{"app.yaml:13: spec.ports: at least one port is required"}},
		{"preStop longer than grace period", edit("preStopSleepSeconds: 5", "preStopSleepSeconds: 60"), []string{"app.yaml:27: spec.drain.preStopSleepSeconds: 60 must be less than terminationGracePeriodSeconds"}},
		{"wrong kind", edit("kind: BlueGreenApp", "kind: Deployment"), []string{`app.yaml:2: kind: expected BlueGreenApp, got "Deployment"`}},
		{"wrong apiVersion", edit("bgrender.io/v1alpha1", "bgrender.io/v2"), []string{`app.yaml:1: apiVersion: expected bgrender.io/v1alpha1`}},
		{"document is a list", "- a\n- b\n", []string{"app.yaml:1: expected a BlueGreenApp mapping, got a list"}},
		{"document is a scalar", "hello\n", []string{"app.yaml:1: expected a BlueGreenApp mapping"}},
		{"second document invalid", base + "---\n" + strings.Replace(base, "  active: blue", "  active: red", 1), []string{"app.yaml:36: spec.active:"}},
		{"same app twice", base + "---\n" + base, []string{`app.yaml:33: metadata.name: app "web" is also defined in app.yaml:4`}},
		{"invalid label key", edit("  namespace: prod\n", "  namespace: prod\n  labels: {\"bad key!\": x}\n"), []string{`app.yaml:6: metadata.labels["bad key!"]:`}},
		{"color label in selector labels", edit("  active: blue\n", "  active: blue\n  selectorLabels: {bgrender.io/color: x}\n"), []string{`app.yaml:8: spec.selectorLabels["bgrender.io/color"]: must not contain the color label`}},
		{"root user", edit("  replicas: 2\n", "  replicas: 2\n  securityContext: {runAsUser: 0}\n"), []string{"app.yaml:13: spec.securityContext.runAsUser: 0 (root) is not allowed"}},
		{"null in labels", edit("  namespace: prod\n", "  namespace: prod\n  labels: {a: ~}\n"), []string{"app.yaml:6: metadata.labels.a: expected a value, got null"}},
		{"unknown network policy mode", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy: {mode: open}\n"), []string{`app.yaml:13: spec.networkPolicy.mode: "open": want standard or strict`}},
		{"pod CIDR with host bits", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    podCIDRs: [10.244.1.1/16]\n"), []string{`app.yaml:14: spec.networkPolicy.podCIDRs[0]: "10.244.1.1/16" is not a CIDR`}},
		{"ingress controller namespace", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    ingressController: {namespace: Ingress_NGINX}\n"), []string{`app.yaml:14: spec.networkPolicy.ingressController.namespace: "Ingress_NGINX"`}},
		{"toleration operator", edit("  replicas: 2\n", "  replicas: 2\n  tolerations:\n    - {key: dedicated, operator: Is, effect: NoSchedule}\n"), []string{`app.yaml:14: spec.tolerations[0].operator: "Is": want Equal or Exists`}},
		{"color toleration value with Exists", edit("    image: example/web:1.0.0\n  green:", "    image: example/web:1.0.0\n    tolerations: [{key: a, operator: Exists, value: b}]\n  green:"), []string{`app.yaml:10: spec.blue.tolerations[0].value: must be empty when operator is Exists`}},
		{"topology spread skew", edit("  replicas: 2\n", "  replicas: 2\n  topologySpreadConstraints:\n    - {maxSkew: 0, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}\n"), []string{`app.yaml:14: spec.topologySpreadConstraints[0].maxSkew: must be at least 1`}},
		{"allowFrom selects every pod of the namespace", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    allowFrom: [{podSelector: {}}]\n"), []string{`app.yaml:14: spec.networkPolicy.allowFrom[0]: selects this app's own blue and green pods`}},
		{"allowFrom selects the app's green pods", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    allowFrom:\n      - {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: prod}}, podSelector: {matchLabels: {bgrender.io/color: green}}}\n"), []string{`app.yaml:15: spec.networkPolicy.allowFrom[0]: selects this app's own green pods`}},
		{"ipBlock with host bits", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    apiServer: [{ipBlock: {cidr: 172.16.0.1/28}}]\n"), []string{`app.yaml:14: spec.networkPolicy.apiServer[0].ipBlock.cidr: "172.16.0.1/28" is not a CIDR`}},
		{"ipBlock except outside cidr", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    allowFrom: [{ipBlock: {cidr: 10.1.0.0/16, except: [10.2.0.0/24]}}]\n"), []string{`spec.networkPolicy.allowFrom[0].ipBlock.except[0]: "10.2.0.0/24" must be a strict subset of cidr 10.1.0.0/16`}},
		{"ipBlock inside the pod CIDR", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    podCIDRs: [10.244.0.0/16]\n    allowFrom: [{ipBlock: {cidr: 10.244.3.0/24}}]\n"), []string{`spec.networkPolicy.allowFrom[0].ipBlock.cidr: 10.244.3.0/24 lies within podCIDRs 10.244.0.0/16`}},
		{"selector operator", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    allowFrom: [{podSelector: {matchExpressions: [{key: app, operator: Foo, values: [x]}]}}]\n"), []string{`spec.networkPolicy.allowFrom[0].podSelector.matchExpressions[0].operator`}},
		{"egress endPort below port", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    egress: [{ports: [{port: 5000, endPort: 4000}]}]\n"), []string{`spec.networkPolicy.egress[0].ports[0].endPort: 4000 must be between port (5000) and 65535`}},
		{"budget over 100%", edit("  replicas: 2\n", "  replicas: 2\n  disruptionBudget: {maxUnavailable: 120%}\n"), []string{`spec.disruptionBudget.maxUnavailable: "120%" must not be greater than 100%`}},
		{"prometheus in the app's namespace", edit("  replicas: 2\n", "  replicas: 2\n  networkPolicy:\n    prometheus: {namespace: prod}\n"), []string{`spec.networkPolicy.prometheus: selects this app's own blue and green pods`}},
		{"minDomains with ScheduleAnyway", edit("  replicas: 2\n", "  replicas: 2\n  topologySpreadConstraints:\n    - {maxSkew: 1, minDomains: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}\n"), []string{`spec.topologySpreadConstraints[0].minDomains: must be at least 1, and only with whenUnsatisfiable DoNotSchedule`}},
		{"traffic to a color at 0 replicas", edit("  replicas: 2\n", "  replicas: 2\n  idleReplicas: 0\n  traffic:\n    weight: 10\n    gateway: {parentRefs: [{name: public, namespace: gw}]}\n"), []string{`spec.traffic.weight: 10% of requests would go to green, which runs 0 replicas`}},
		{"traffic path with //", edit("  replicas: 2\n", "  replicas: 2\n  traffic:\n    gateway: {parentRefs: [{name: public, namespace: gw}], path: /a//b}\n"), []string{`spec.traffic.gateway.path: "/a//b": a path prefix without //`}},
		{"traffic parentRefs twice", edit("  replicas: 2\n", "  replicas: 2\n  traffic:\n    gateway: {parentRefs: [{name: public, namespace: gw}, {name: public, namespace: gw}]}\n"), []string{`spec.traffic.gateway.parentRefs[1]: names the same Gateway listener as parentRefs[0]`}},
		{"traffic weight over 100", edit("  replicas: 2\n", "  replicas: 2\n  traffic:\n    weight: 120\n    gateway: {parentRefs: [{name: public, namespace: gw}]}\n"), []string{`spec.traffic.weight: 120 is not a percentage`}},
		{"traffic without a gateway", edit("  replicas: 2\n", "  replicas: 2\n  traffic: {weight: 10}\n"), []string{`spec.traffic: name how traffic is routed`}},
		{"traffic gateway elsewhere, app without namespace", strings.Replace(edit("  replicas: 2\n", "  replicas: 2\n  traffic:\n    gateway: {parentRefs: [{name: public, namespace: gw}]}\n"), "  namespace: prod\n", "", 1), []string{`metadata.namespace: required with a parentRef in namespace gw`}},
		{"unknown gate field", base + "  gates:\n    errorRate:\n      prometheusURL: http://prometheus:9090\n      maxPercent: 1\n      treshold: 2\n", []string{`app.yaml:33: spec.gates.errorRate.treshold: unknown field`}},
		{"unknown gate", base + "  gates:\n    smoke: {}\n", []string{`app.yaml:30: spec.gates.smoke: unknown field`}},
		{"negative gate count", base + "  gates:\n    errorRate: {prometheusURL: \"http://prometheus:9090\", maxPercent: 1, count: -2}\n", []string{`app.yaml:30: spec.gates.errorRate.count: must be at least 1, got -2`}},
		{"negative health attempts", base + "  gates:\n    health:\n      path: /health\n      attempts: -1\n", []string{`app.yaml:32: spec.gates.health.attempts: must be at least 1, got -1`}},
		{"gate window that does not parse", base + "  gates:\n    errorRate:\n      prometheusURL: http://prometheus:9090\n      maxPercent: 1\n      window: 5 minutes\n", []string{`app.yaml:33: spec.gates.errorRate.window: "5 minutes" is not a duration`}},
		{"guard interval that does not parse", base + "  gates:\n    errorRate: {prometheusURL: \"http://prometheus:9090\", maxPercent: 1}\n    guard: {interval: often}\n", []string{`app.yaml:31: spec.gates.guard.interval: "often" is not a duration`}},
		{"failure limit at count", base + "  gates:\n    errorRate: {prometheusURL: \"http://prometheus:9090\", maxPercent: 1, count: 2, failureLimit: 2}\n", []string{`app.yaml:30: spec.gates.errorRate.failureLimit: 2 must be less than count (2)`}},
		{"health port not a port", base + "  gates:\n    health: {path: /health, port: grpc}\n", []string{`app.yaml:30: spec.gates.health.port: "grpc" is not a port of spec.ports`}},
		{"autoscaling beside replicas", edit("  replicas: 2\n", "  replicas: 2\n  autoscaling: {minReplicas: 2, maxReplicas: 4}\n"), []string{`app.yaml:12: spec.replicas: drop it: with spec.autoscaling the HPA sets each color's replicas`}},
		{"autoscaling min over max", edit("  replicas: 2\n", "  autoscaling: {minReplicas: 5, maxReplicas: 4}\n"), []string{`app.yaml:12: spec.autoscaling.minReplicas: 5 is more than maxReplicas (4)`}},
		{"autoscaling metric that does not parse", edit("  replicas: 2\n", "  autoscaling:\n    maxReplicas: 4\n    metrics:\n      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50%}}\n"), []string{`app.yaml:16: spec.autoscaling.metrics[0].resource.target.averageUtilization: expected integer, got string "50%"`}},
		{"autoscaling metric with a misspelt field", edit("  replicas: 2\n", "  autoscaling:\n    maxReplicas: 4\n    metrics:\n      - type: Pods\n        pods:\n          metric: {name: rps}\n          target: {type: AverageValue, avgValue: 10}\n"), []string{`app.yaml:18: spec.autoscaling.metrics[0].pods.target.avgValue: unknown field`}},
		{"migration contract without expand", edit("  replicas: 2\n", "  replicas: 2\n  migrations:\n    contract: {command: [drop]}\n"), []string{`app.yaml:14: spec.migrations.contract: needs spec.migrations.expand`}},
		{"migration pod that would leave restricted PSS", edit("  replicas: 2\n", "  replicas: 2\n  migrations:\n    expand:\n      command: [migrate]\n      securityContext: {runAsUser: 0}\n"), []string{`app.yaml:16: spec.migrations.expand.securityContext: unknown field`}},
		{"node selector key", edit("  replicas: 2\n", "  replicas: 2\n  nodeSelector: {\"bad key!\": x}\n"), []string{`app.yaml:13: spec.nodeSelector["bad key!"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.yaml")
			if err := os.WriteFile(path, []byte(tt.input), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"render", "validate"} {
				res := runCLI(t, "", cmd, path)
				if res.code != 2 {
					t.Errorf("%s: exit %d, want 2; stderr:\n%s", cmd, res.code, res.stderr)
				}
				if res.stdout != "" {
					t.Errorf("%s: stdout must be empty on bad input, got:\n%s", cmd, res.stdout)
				}
				stderr := strings.ReplaceAll(res.stderr, filepath.Dir(path)+string(filepath.Separator), "")
				want := tt.want
				if want == nil {
					want = []string{"app.yaml:"}
				}
				for _, w := range want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", cmd, w, stderr)
					}
				}
				if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
					t.Errorf("%s: stack trace on stderr:\n%s", cmd, stderr)
				}
			}
		})
	}
	if len(tests) < 25 {
		t.Errorf("the table covers %d kinds of bad input; keep at least 25", len(tests))
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	input := edit("  active: blue", "  active: purple")
	input = strings.Replace(input, "  replicas: 2", "  replicas: -1", 1)
	input = strings.Replace(input, "    port: http", "    port: nope", 1)
	res := runCLI(t, input, "validate", "-")
	if res.code != 2 {
		t.Fatalf("exit %d", res.code)
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 problems, one per line, in line order; got:\n%s", res.stderr)
	}
	for i, want := range []string{"<stdin>:7: spec.active", "<stdin>:12: spec.replicas", "<stdin>:19: spec.healthCheck.port"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("problem %d: want prefix %q, got %q", i, want, lines[i])
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"promte", "--repo", "x"}, `unknown command "promte" (did you mean "promote"?)`},
		{[]string{"render"}, "no input"},
		{[]string{"render", "--bogus", "x.yaml"}, "unknown flag: --bogus"},
		{[]string{"render", "-o", "xml", "x.yaml"}, `--output "xml": expected yaml or json`},
		{[]string{"render", "does-not-exist.yaml"}, "read does-not-exist.yaml: no such file or directory"},
		{[]string{"render", "-", "-"}, "standard input (-) can be read only once"},
		{[]string{"version", "extra"}, "version takes no arguments"},
		{[]string{"schema", "extra"}, "schema takes no arguments"},
	}
	for _, tt := range tests {
		res := runCLI(t, "", tt.args...)
		if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("bgrender %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, res.code, res.stdout, res.stderr, tt.want)
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			res := runCLI(t, "", args...)
			if res.code != 0 || !strings.Contains(res.stdout, "Usage:") || !strings.Contains(res.stdout, "Examples:") || !strings.Contains(res.stdout, "bgrender "+c.name) {
				t.Errorf("bgrender %v: exit %d, want usage and examples on stdout; got:\n%s%s", args, res.code, res.stdout, res.stderr)
			}
		}
	}
	if res := runCLI(t, "", "--help"); res.code != 0 || !strings.Contains(res.stdout, "Commands:") {
		t.Errorf("bgrender --help: exit %d:\n%s", res.code, res.stdout)
	}
}

func TestVersion(t *testing.T) {
	res := runCLI(t, "", "version")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "bgrender ") {
		t.Fatalf("exit %d, stdout %q", res.code, res.stdout)
	}
}
