package render_test

import (
	"fmt"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

func ExampleRender() {
	apps, err := spec.Load("app.yaml", []byte(`
apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: hello, namespace: web}
spec:
  active: green
  blue: {image: example/hello:1.1.0}
  green: {image: example/hello:1.0.0}
  ports: [{containerPort: 8080, servicePort: 80}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range render.Render(apps) {
		fmt.Println(o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
	}
	// Output:
	// NetworkPolicy hello-blue
	// NetworkPolicy hello-green
	// ServiceAccount hello
	// Service hello
	// Service hello-preview
	// Deployment hello-blue
	// Deployment hello-green
}
