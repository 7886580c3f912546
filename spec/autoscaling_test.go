package spec_test

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// autoscaledApp is a valid spec whose autoscaling block the tests below
// append; its line 10 is the first line appended.
const autoscaledApp = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: web}
spec:
  blue: {image: web:1}
  green: {image: web:1}
  ports: [{name: http, containerPort: 8080, servicePort: 80}]
  resources: {requests: {cpu: 100m}}
  active: blue
`

func TestAutoscalingBoundsPerColor(t *testing.T) {
	apps, err := spec.Load("app.yaml", []byte(autoscaledApp+`  autoscaling:
    minReplicas: 3
    maxReplicas: 10
    idleMinReplicas: 2
  blue:
    image: web:1
    autoscaling: {maxReplicas: 20}
`))
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		// blue is already written above: the override goes in a spec of its own
		t.Fatalf("want a duplicate key error, got %v", err)
	}
	apps, err = spec.Load("app.yaml", []byte(strings.Replace(autoscaledApp, "blue: {image: web:1}", "blue: {image: web:1, autoscaling: {maxReplicas: 20}}", 1)+`  autoscaling:
    minReplicas: 3
    maxReplicas: 10
    idleMinReplicas: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &apps[0].Spec
	got := [4]int32{s.MinReplicasOf(spec.Blue), s.MaxReplicasOf(spec.Blue), s.MinReplicasOf(spec.Green), s.MaxReplicasOf(spec.Green)}
	if got != [4]int32{3, 20, 2, 10} {
		t.Errorf("blue min/max, green min/max = %v, want [3 20 2 10]", got)
	}
	if s.Replicas != nil || s.ReplicasOf(spec.Green) != 2 || s.MostReplicasOf(spec.Blue) != 20 {
		t.Errorf("replicas %v, green's floor %d, blue's most %d", s.Replicas, s.ReplicasOf(spec.Green), s.MostReplicasOf(spec.Blue))
	}
	// A floor promote --match-capacity raised overrides idleMinReplicas
	// too, and leaves the configured one readable.
	s.Green.Autoscaling = &spec.ColorAutoscalingSpec{MatchedMinReplicas: ptr.To(int32(6))}
	if s.MinReplicasOf(spec.Green) != 6 || s.ConfiguredMinReplicasOf(spec.Green) != 2 {
		t.Errorf("green raised to 6: min %d, configured %d", s.MinReplicasOf(spec.Green), s.ConfiguredMinReplicasOf(spec.Green))
	}
	if m := s.Autoscaling.Metrics; len(m) != 1 || m[0].Resource == nil || m[0].Resource.Name != "cpu" || *m[0].Resource.Target.AverageUtilization != spec.DefaultCPUUtilization {
		t.Errorf("default metric %+v, want CPU utilization %d%%", m, spec.DefaultCPUUtilization)
	}
}

func TestAutoscalingValidation(t *testing.T) {
	for name, tc := range map[string]struct{ color, block, want string }{
		"min over max":           {"", "  autoscaling: {minReplicas: 5, maxReplicas: 3}", "app.yaml:10: spec.autoscaling.minReplicas: 5 is more than maxReplicas (3) of the blue color"},
		"min zero":               {"", "  autoscaling: {minReplicas: 0, maxReplicas: 3}", "app.yaml:10: spec.autoscaling.minReplicas: must be at least 1, got 0 (minReplicas 0 needs the HPAScaleToZero feature gate"},
		"idle min zero":          {"", "  autoscaling:\n    maxReplicas: 3\n    idleMinReplicas: 0", "app.yaml:12: spec.autoscaling.idleMinReplicas: must be at least 1, got 0"},
		"idle min over max":      {"", "  autoscaling:\n    maxReplicas: 3\n    idleMinReplicas: 4", "app.yaml:12: spec.autoscaling.idleMinReplicas: 4 is more than maxReplicas (3) of the green color"},
		"max missing":            {"", "  autoscaling: {minReplicas: 2}", "app.yaml:10: spec.autoscaling.maxReplicas: required"},
		"with replicas":          {"", "  replicas: 3\n  autoscaling: {maxReplicas: 3}", "app.yaml:10: spec.replicas: drop it: with spec.autoscaling the HPA sets each color's replicas"},
		"with idleReplicas":      {"", "  idleReplicas: 0\n  autoscaling: {maxReplicas: 3}", "app.yaml:10: spec.idleReplicas: drop it: with spec.autoscaling the idle color's floor is autoscaling.idleMinReplicas"},
		"with color replicas":    {"  green: {image: web:1, replicas: 2}", "  autoscaling: {maxReplicas: 3}", "spec.green.replicas: drop it: with spec.autoscaling set spec.green.autoscaling.minReplicas and maxReplicas instead"},
		"override without block": {"  green: {image: web:1, autoscaling: {maxReplicas: 3}}", "", "app.yaml:6: spec.green.autoscaling: needs spec.autoscaling"},
		"color min over max":     {"  blue: {image: web:1, autoscaling: {minReplicas: 9}}", "  autoscaling: {maxReplicas: 3}", "app.yaml:5: spec.blue.autoscaling.minReplicas: 9 is more than maxReplicas (3) of the blue color"},
		"matched over max":       {"  green: {image: web:1, autoscaling: {matchedMinReplicas: 9}}", "  autoscaling: {maxReplicas: 3}", "app.yaml:6: spec.green.autoscaling.matchedMinReplicas: 9 is more than maxReplicas (3) of the green color"},
		"unknown metric field":   {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, averageUtilisation: 50}}", `app.yaml:14: spec.autoscaling.metrics[0].resource.target.averageUtilisation: unknown field (did you mean "averageUtilization"?)`},
		"bad quantity":           {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Pods\n        pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: lots}}", `app.yaml:14: spec.autoscaling.metrics[0].pods.target.averageValue: invalid quantity "lots"`},
		"unknown metric type":    {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Cpu", `app.yaml:13: spec.autoscaling.metrics[0].type: "Cpu": want Resource, ContainerResource, Pods, Object or External`},
		"type without source":    {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: External", "app.yaml:13: spec.autoscaling.metrics[0]: type External needs its external block"},
		"two sources":            {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Resource\n        resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n        pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 1}}", "app.yaml:15: spec.autoscaling.metrics[0].pods: type is Resource: set only its resource block"},
		"pods target type":       {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Pods\n        pods: {metric: {name: rps}, target: {type: Utilization, averageUtilization: 5}}", `app.yaml:14: spec.autoscaling.metrics[0].pods.target.type: "Utilization": want AverageValue`},
		"missing target value":   {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: External\n        external: {metric: {name: queue}, target: {type: Value}}", "app.yaml:14: spec.autoscaling.metrics[0].external.target.value: required with type Value"},
		"object without name":    {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Object\n        object: {describedObject: {kind: Ingress}, metric: {name: rps}, target: {type: Value, value: 10}}", "app.yaml:14: spec.autoscaling.metrics[0].object.describedObject.name: required"},
		"utilization no request": {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: Resource\n        resource: {name: memory, target: {type: Utilization, averageUtilization: 50}}", "app.yaml:14: spec.autoscaling.metrics[0].resource.target.averageUtilization: is a share of the pods' request, but spec.resources.requests.memory is not set"},
		"other container":        {"", "  autoscaling:\n    maxReplicas: 3\n    metrics:\n      - type: ContainerResource\n        containerResource: {name: cpu, container: sidecar, target: {type: Utilization, averageUtilization: 50}}", `app.yaml:14: spec.autoscaling.metrics[0].containerResource.container: "sidecar" is not the app's container (web)`},
		"behavior policy":        {"", "  autoscaling:\n    maxReplicas: 3\n    behavior:\n      scaleUp:\n        policies: [{type: Pod, value: 0, periodSeconds: 3600}]", `app.yaml:14: spec.autoscaling.behavior.scaleUp.policies[0].periodSeconds: 3600 is out of range (1-1800)`},
		"behavior window":        {"", "  autoscaling:\n    maxReplicas: 3\n    behavior:\n      scaleDown: {stabilizationWindowSeconds: 7200}", "app.yaml:13: spec.autoscaling.behavior.scaleDown.stabilizationWindowSeconds: 7200 is out of range (0-3600)"},
		"blocking budget":        {"", "  disruptionBudget: {minAvailable: 2}\n  autoscaling: {minReplicas: 2, maxReplicas: 5}", "app.yaml:10: spec.disruptionBudget.minAvailable: 2 admits no eviction while the blue color runs at its minReplicas (2)"},
		"budget of all":          {"", "  disruptionBudget: {minAvailable: 100%}\n  autoscaling: {minReplicas: 2, maxReplicas: 5}", "app.yaml:10: spec.disruptionBudget.minAvailable: 100% admits no eviction"},
		"budget of none":         {"", "  disruptionBudget: {maxUnavailable: 0}\n  autoscaling: {minReplicas: 2, maxReplicas: 5}", "app.yaml:10: spec.disruptionBudget.maxUnavailable: 0 admits no eviction"},
		"cpu default no request": {"", "  resources: {requests: {memory: 1Gi}}\n  autoscaling: {maxReplicas: 3}", "spec.autoscaling: has no metrics, so the HPA scales on CPU utilization (80%, the API server's default), but spec.resources.requests.cpu is not set"},
	} {
		input := autoscaledApp + tc.block + "\n"
		if strings.Contains(tc.block, "resources:") {
			input = strings.Replace(autoscaledApp, "  resources: {requests: {cpu: 100m}}\n", "", 1) + tc.block + "\n"
		}
		if tc.color != "" {
			// a color's line is replaced in place, so lines stay where they are
			old := "  " + strings.Fields(tc.color)[0] + " {image: web:1}"
			input = strings.Replace(input, old, tc.color, 1)
		}
		_, err := spec.Load("app.yaml", []byte(input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %q", name, err, tc.want)
		}
	}
}

// TestAutoscalingValidWithEveryMetricSource: each metric source type, as
// Kubernetes documents it, is accepted.
func TestAutoscalingValidWithEveryMetricSource(t *testing.T) {
	_, err := spec.Load("app.yaml", []byte(autoscaledApp+`  disruptionBudget: {minAvailable: 1}
  autoscaling:
    minReplicas: 2
    maxReplicas: 10
    metrics:
      - type: Resource
        resource: {name: cpu, target: {type: AverageValue, averageValue: 500m}}
      - type: ContainerResource
        containerResource: {name: cpu, container: web, target: {type: Utilization, averageUtilization: 60}}
      - type: Pods
        pods: {metric: {name: packets-per-second}, target: {type: AverageValue, averageValue: 1k}}
      - type: Object
        object:
          metric: {name: requests-per-second}
          describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main-route}
          target: {type: Value, value: 10k}
      - type: External
        external:
          metric:
            name: queue_messages_ready
            selector: {matchLabels: {queue: worker_tasks}}
          target: {type: AverageValue, averageValue: "30"}
    behavior:
      scaleDown:
        stabilizationWindowSeconds: 300
        selectPolicy: Min
        policies: [{type: Percent, value: 10, periodSeconds: 60}, {type: Pods, value: 5, periodSeconds: 60}]
      scaleUp: {selectPolicy: Disabled}
`))
	if err != nil {
		t.Fatal(err)
	}
}
