package spec

import (
	"encoding/json"
	"reflect"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// SchemaID is the $id of the JSON Schema that `bgrender schema` prints.
const SchemaID = "https://bgrender.io/schemas/v1alpha1/bluegreenapp.json"

// enums lists the allowed values of the string types that have a fixed set.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[Color]():                              {string(Blue), string(Green)},
	reflect.TypeFor[corev1.ServiceType]():                 {"ClusterIP", "NodePort", "LoadBalancer"},
	reflect.TypeFor[corev1.ServiceAffinity]():             {"None", "ClientIP"},
	reflect.TypeFor[corev1.Protocol]():                    {"TCP", "UDP", "SCTP"},
	reflect.TypeFor[networkingv1.PathType]():              {"Prefix", "Exact", "ImplementationSpecific"},
	reflect.TypeFor[NetworkPolicyMode]():                  {string(NetworkPolicyStandard), string(NetworkPolicyStrict)},
	reflect.TypeFor[autoscalingv2.MetricSourceType]():     {"Resource", "ContainerResource", "Pods", "Object", "External"},
	reflect.TypeFor[autoscalingv2.MetricTargetType]():     {"Utilization", "Value", "AverageValue"},
	reflect.TypeFor[autoscalingv2.HPAScalingPolicyType](): {"Pods", "Percent"},
	reflect.TypeFor[autoscalingv2.ScalingPolicySelect]():  {"Max", "Min", "Disabled"},
}

// descriptions documents the spec's own fields for editors.
var descriptions = map[string]string{
	"spec.active":                                  "The color that the main Service routes to: blue or green.",
	"spec.colorLabel":                              "Label key that carries the color (the article uses \"version\").",
	"spec.selectorLabels":                          "Labels that identify the app's pods besides the color label.",
	"spec.blue":                                    "What the blue Deployment runs.",
	"spec.green":                                   "What the green Deployment runs.",
	"spec.migrations":                              "Database migration Jobs, split by the expand/contract rule: expand (backward compatible) runs with each new image before the color gets traffic; contract (dropping what the old version used) runs with the contract action once the old color is retired.",
	"spec.migrations.expand":                       "A Job <name>-expand-<hash of image and pod> rendered for each color's image, so that a new image is a new Job; deploy --wait waits for it, and promote's migration gate requires it succeeded for the idle color's image.",
	"spec.migrations.contract":                     "The Job <name>-contract-<hash> that drops what the old version used; the contract action commits it for the live image once the old color is retired. Needs expand.",
	"spec.migrations.contracted":                   "The record of the last contract, written by the contract action: rollback, promote and guard refuse to send traffic to an image it retired.",
	"spec.migrations.contracted.image":             "The image the schema was contracted for.",
	"spec.migrations.contracted.job":               "The contract Job that ran it (rendered while the spec renders the same Job).",
	"spec.migrations.contracted.retired":           "Images the colors ran before the contract, newest first: no flip goes to them without --force.",
	"spec.migrations.expand.image":                 "Image of the migration container; default: the color's image.",
	"spec.migrations.expand.resources":             "Resources of the migration container; default: spec.resources.",
	"spec.migrations.expand.backoffLimit":          "Retries of a failed migration pod; default 0 (a fix is a new deploy).",
	"spec.migrations.expand.activeDeadlineSeconds": "Seconds after which a running migration fails.",
	"spec.replicas":                                "Replicas per color unless the color overrides it.",
	"spec.idleReplicas":                            "Replicas of the idle color; 0 scales it down.",
	"spec.maxSurge":                                "How many pods above its count a color's rollout starts at once: a number or a percentage of its replicas (default 25%; 100% starts all new pods together, so a deploy to the idle color waits for its slowest pod once). maxUnavailable is always 0. The quota must hold the extra pods.",
	"spec.autoscaling":                             "An autoscaling/v2 HorizontalPodAutoscaler <name>-<color> per color, targeting the color's Deployment, which is then rendered without replicas so that the GitOps agent never fights the autoscaler. Drop replicas and idleReplicas when set.",
	"spec.autoscaling.minReplicas":                 "The fewest pods of a color (at least 1; a color's autoscaling.minReplicas overrides it).",
	"spec.autoscaling.maxReplicas":                 "The most pods of a color (a color's autoscaling.maxReplicas overrides it).",
	"spec.autoscaling.idleMinReplicas":             "minReplicas of the idle color's HPA, as idleReplicas is its count without autoscaling.",
	"spec.autoscaling.metrics":                     "Metrics as an autoscaling/v2 HPA writes them (Resource, ContainerResource, Pods, Object, External); default: CPU utilization 80%.",
	"spec.autoscaling.behavior":                    "scaleUp and scaleDown rules of the HPAs, as autoscaling/v2 writes them.",
	"spec.blue.autoscaling":                        "Overrides spec.autoscaling's minReplicas and maxReplicas for blue.",
	"spec.green.autoscaling":                       "Overrides spec.autoscaling's minReplicas and maxReplicas for green.",
	"spec.blue.autoscaling.matchedMinReplicas":     "Written by promote --match-capacity: blue's floor raised to what the live color ran before a flip; it overrides every other minReplicas of blue until the promotion's last commit removes it.",
	"spec.green.autoscaling.matchedMinReplicas":    "Written by promote --match-capacity: green's floor raised to what the live color ran before a flip; it overrides every other minReplicas of green until the promotion's last commit removes it.",
	"spec.containerName":                           "Name of the application container.",
	"spec.ports":                                   "Ports that the container listens on and the Services expose.",
	"spec.healthCheck":                             "HTTP readiness check on a port of spec.ports.",
	"spec.env":                                     "Environment variables shared by both colors.",
	"spec.envFrom":                                 "Secrets and ConfigMaps shared by both colors.",
	"spec.resources":                               "Requests and limits of the application container.",
	"spec.service":                                 "The active Service; the preview Service is always ClusterIP.",
	"spec.ingress":                                 "Ingresses for the live host and the preview host.",
	"spec.networkPolicy":                           "Per-color NetworkPolicies: blue and green cannot reach each other; standard mode admits what the spec sets up (Ingress controller, outside clients, Prometheus).",
	"spec.traffic":                                 "Weighted traffic between the colors, through a Gateway API HTTPRoute (gateway) or an ingress-nginx canary Ingress beside spec.ingress (nginx); set exactly one. weight is the idle color's percent.",
	"spec.traffic.canaryColor":                     "With nginx: the color the canary Ingress sends weight percent to (default: the idle color). promote --steps writes it for the one commit of a hand-over and removes it in the next; do not set it by hand.",
	"spec.topologySpreadConstraints":               "Spread of each color's pods; default: across zones and nodes, ScheduleAnyway. An empty list renders none.",
	"spec.nodeSelector":                            "Node labels that both colors' pods require (a color may set its own).",
	"spec.tolerations":                             "Tolerations of both colors' pods, for tainted node pools (a color may set its own).",
	"spec.affinity":                                "Affinity of both colors' pods (a color may set its own).",
	"spec.priorityClassName":                       "PriorityClass of both colors' pods (a color may set its own).",
	"spec.quota":                                   "A ResourceQuota computed from both colors unless hard is set.",
	"spec.drain":                                   "Connection draining: a preStop sleep and the grace period.",
	"spec.disruptionBudget":                        "PodDisruptionBudgets: by default maxUnavailable 1 for each color that runs 2 or more replicas.",
	"spec.gates":                                   "The checks a promotion must pass, run by promote, deploy --wait, check and guard unless --no-spec-gates; a flag overrides one setting at a time. Each gate runs only when its block is present, in this order: rollout, health, warmUp, errorRate; guard is the watch after a flip.",
	"spec.gates.rollout":                           "The color's Deployment must be fully rolled out (as kubectl rollout status judges it).",
	"spec.gates.capacity":                          "Before traffic moves to a color, it must have as many ready pods as its share of what the live color runs now (its HorizontalPodAutoscaler's desired replicas, else its ready pods). {} turns it on for every flip.",
	"spec.gates.capacity.match":                    "true: every promote of the folder is a promote --match-capacity (raise the color's floor to what the live color runs, wait for its pods, flip, restore the floor) instead of a refusal.",
	"spec.gates.rollout.timeout":                   "How long to wait for the rollout, a Go duration (flag: --rollout-timeout, check --timeout).",
	"spec.gates.health":                            "GET path through the API server's service proxy to the preview Service, or url directly; 2xx or 3xx passes. Set path or url.",
	"spec.gates.health.path":                       "Path requested through the service proxy (flag: --health-path).",
	"spec.gates.health.url":                        "Absolute http(s) URL requested directly, such as the preview Ingress (flag: --health-url).",
	"spec.gates.health.port":                       "Port of the preview Service for path and warmUp: a name or servicePort of spec.ports (default: the Service's first port; flag: --health-port).",
	"spec.gates.health.attempts":                   "Requests before the gate refuses, with exponential backoff from 1s (flag: --health-attempts).",
	"spec.gates.warmUp":                            "Paths requested before the flip; a 5xx refuses.",
	"spec.gates.warmUp.paths":                      "Paths to request, each starting with / (flag: --warm).",
	"spec.gates.warmUp.requests":                   "Requests per path (flag: --warm-requests).",
	"spec.gates.errorRate":                         "The color's share of failed requests in Prometheus, measured as an Argo Rollouts AnalysisTemplate measures a metric: count measurements, interval apart; the gate refuses when more than failureLimit are at or above maxPercent. An inconclusive measurement (no data unless noData is pass, a failed query) blocks: it never passes.",
	"spec.gates.errorRate.prometheusURL":           "Prometheus's base URL (flag: --prometheus-url).",
	"spec.gates.errorRate.query":                   "PromQL returning a percentage; {{app}} {{namespace}} {{colorLabel}} {{color}} {{window}} are filled in (default: the 5xx share of http_requests_total; flag: --query).",
	"spec.gates.errorRate.maxPercent":              "A measurement at or above this percentage fails (flag: --max-error-rate).",
	"spec.gates.errorRate.window":                  "Rate window of the query's {{window}}, at least 1s (flag: --window).",
	"spec.gates.errorRate.count":                   "Number of measurements (flag: --measurements).",
	"spec.gates.errorRate.interval":                "Time between two measurements (flag: --measurement-interval).",
	"spec.gates.errorRate.failureLimit":            "Failed measurements allowed; one more refuses. Less than count (flag: --failure-limit).",
	"spec.gates.errorRate.noData":                  "A measurement without data: block (inconclusive: the gate refuses) or pass (flag: --allow-no-data).",
	"spec.gates.guard":                             "bgrender guard's watch of the live color after a flip: the error rate (read as errorRate reads it) must stay under maxPercent and the Deployment available, or guard rolls back in Git.",
	"spec.gates.guard.for":                         "How long to watch (flag: --for).",
	"spec.gates.guard.interval":                    "How often to look (flag: --interval).",
	"spec.gates.guard.maxPercent":                  "Error rate that rolls back (default: errorRate.maxPercent; flag: guard --max-error-rate).",
}

// durationPattern is the form of a Go duration; validation also rejects
// a zero one.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// constraints are JSON Schema keywords of single fields, by path: the
// limits that validation enforces and the defaults that Default fills in.
var constraints = map[string]map[string]any{
	"spec.autoscaling.minReplicas":                   {"minimum": 1, "default": DefaultMinReplicas},
	"spec.autoscaling.maxReplicas":                   {"minimum": 1},
	"spec.autoscaling.idleMinReplicas":               {"minimum": 1},
	"spec.blue.autoscaling.minReplicas":              {"minimum": 1},
	"spec.blue.autoscaling.maxReplicas":              {"minimum": 1},
	"spec.green.autoscaling.minReplicas":             {"minimum": 1},
	"spec.green.autoscaling.maxReplicas":             {"minimum": 1},
	"spec.blue.autoscaling.matchedMinReplicas":       {"minimum": 1},
	"spec.green.autoscaling.matchedMinReplicas":      {"minimum": 1},
	"spec.migrations.expand.backoffLimit":            {"minimum": 0, "default": DefaultMigrationBackoffLimit},
	"spec.migrations.expand.activeDeadlineSeconds":   {"minimum": 1, "default": DefaultMigrationDeadlineSeconds},
	"spec.migrations.contract.backoffLimit":          {"minimum": 0, "default": DefaultMigrationBackoffLimit},
	"spec.migrations.contract.activeDeadlineSeconds": {"minimum": 1, "default": DefaultMigrationDeadlineSeconds},
	"spec.migrations.contracted.retired":             {"maxItems": MaxRetiredImages},
	"spec.gates.rollout.timeout":                     {"pattern": durationPattern, "default": DefaultRolloutTimeout},
	"spec.gates.health.path":                         {"pattern": "^/"},
	"spec.gates.health.url":                          {"pattern": "^https?://[^/]"},
	"spec.gates.health.attempts":                     {"minimum": 1, "default": DefaultHealthAttempts},
	"spec.gates.warmUp.paths":                        {"minItems": 1},
	"spec.gates.warmUp.paths[]":                      {"pattern": "^/"},
	"spec.gates.warmUp.requests":                     {"minimum": 1, "default": DefaultWarmRequests},
	"spec.gates.errorRate.prometheusURL":             {"pattern": "^https?://[^/]"},
	"spec.gates.errorRate.maxPercent":                {"exclusiveMinimum": 0, "maximum": 100},
	"spec.gates.errorRate.window":                    {"pattern": durationPattern, "default": DefaultErrorRateWindow},
	"spec.gates.errorRate.count":                     {"minimum": 1, "default": DefaultMeasurements},
	"spec.gates.errorRate.interval":                  {"pattern": durationPattern, "default": DefaultMeasurementInterval},
	"spec.gates.errorRate.failureLimit":              {"minimum": 0, "default": DefaultFailureLimit},
	"spec.gates.errorRate.noData":                    {"enum": []string{NoDataBlock, NoDataPass}, "default": NoDataBlock},
	"spec.gates.guard.for":                           {"pattern": durationPattern, "default": DefaultGuardFor},
	"spec.gates.guard.interval":                      {"pattern": durationPattern, "default": DefaultGuardInterval},
	"spec.gates.guard.maxPercent":                    {"exclusiveMinimum": 0, "maximum": 100},
}

// JSONSchema returns a JSON Schema (draft-07) of BlueGreenApp, usable by
// yaml-language-server for completion and checks in editors.
func JSONSchema() []byte {
	g := &schemaGen{defs: map[string]any{}, desc: descriptions, cons: constraints}
	root := g.object(reflect.TypeFor[BlueGreenApp](), "")
	props := root["properties"].(map[string]any)
	props["apiVersion"] = map[string]any{"const": APIVersion}
	props["kind"] = map[string]any{"const": Kind}
	out := map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         SchemaID,
		"title":       "BlueGreenApp",
		"description": "A blue/green application rendered by bgrender (" + APIVersion + ").",
		"definitions": g.defs,
	}
	for k, v := range root {
		out[k] = v
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err) // the schema is built from static types; this cannot fail
	}
	return append(raw, '\n')
}

type schemaGen struct {
	defs map[string]any
	// desc and cons are the descriptions and constraints by field path.
	desc map[string]string
	cons map[string]map[string]any
}

func (g *schemaGen) schema(t reflect.Type, path string) map[string]any {
	s := g.schemaOf(t, path)
	if _, isRef := s["$ref"]; !isRef {
		for k, v := range g.cons[path] {
			s[k] = v
		}
	}
	return s
}

func (g *schemaGen) schemaOf(t reflect.Type, path string) map[string]any {
	switch t {
	case quantityType:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "pattern": `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$`},
			map[string]any{"type": "number"},
		}}
	case intOrStringType:
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), path)
	case reflect.Struct:
		if strings.HasPrefix(t.PkgPath(), "k8s.io/") {
			return g.ref(t)
		}
		return g.object(t, path)
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), path+".*")}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), path+"[]")}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if values := enums[t]; len(values) > 0 {
			s["enum"] = values
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}

// ref puts a Kubernetes type into the definitions once and refers to it.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name := strings.NewReplacer("k8s.io/", "io.k8s.", "/", ".").Replace(t.PkgPath()) + "." + t.Name()
	if _, done := g.defs[name]; !done {
		g.defs[name] = nil // placeholder against recursion
		g.defs[name] = g.object(t, "")
	}
	return map[string]any{"$ref": "#/definitions/" + name}
}

func (g *schemaGen) object(t reflect.Type, path string) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, path, props, &required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if d, ok := g.desc[path]; ok {
		s["description"] = d
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, path string, props map[string]any, required *[]string) {
	for _, f := range jsonFieldList(t) {
		p := fieldPath(path, f.Name)
		s := g.schema(f.Type, p)
		if d, ok := g.desc[p]; ok {
			if _, isRef := s["$ref"]; !isRef {
				s["description"] = d
			}
		}
		props[f.Name] = s
		if !f.Optional && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, f.Name)
		}
	}
}
