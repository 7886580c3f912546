package rollouts_test

import (
	"fmt"

	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

func ExampleRender() {
	apps, err := spec.Load("app.yaml", []byte(`
apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: hello, namespace: web}
spec:
  blue: {image: example/hello:1.0.0}
  green: {image: example/hello:1.1.0}
  ports: [{containerPort: 8080, servicePort: 80}]
  gates:
    errorRate: {prometheusURL: "http://prometheus.monitoring:9090", maxPercent: 1}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range rollouts.Render(apps) {
		fmt.Println(o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
	}
	// Output:
	// NetworkPolicy hello
	// ServiceAccount hello
	// Service hello
	// Service hello-preview
	// AnalysisTemplate hello-pre-promotion
	// Rollout hello
}

func ExampleImport() {
	app, notes, err := rollouts.Import([]rollouts.File{{Name: "rollout.yaml", Data: []byte(`
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  strategy:
    blueGreen: {activeService: hello, previewService: hello-preview, autoPromotionEnabled: false}
  template:
    metadata: {labels: {app: hello}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: hello, image: "example/hello:1.1.0", ports: [{containerPort: 8080}]}]
`)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(app.Metadata.Name, app.Spec.Blue.Image, *app.Spec.Replicas)
	for _, n := range notes {
		fmt.Println(n)
	}
	// Output:
	// hello example/hello:1.1.0 3
	// rollout.yaml:9: spec.strategy.blueGreen.activeService: Service "hello" is not in the input: its type, ports and annotations are not imported
	// rollout.yaml:9: spec.strategy.blueGreen.previewService: Service "hello-preview" is not in the input: its type, ports and annotations are not imported
}
