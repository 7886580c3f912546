// Package benchdata generates the inputs of bgrender's benchmarks, so that
// the Go benchmarks and the programs under bench/ measure the same thing.
package benchdata

import (
	"bytes"
	"fmt"
)

// HelmStream returns a Helm 3 style stream of n documents: per app a
// Deployment, its Service, a ConfigMap and a Secret, with comments and
// "# Source:" lines as Helm writes them.
func HelmStream(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("app-%05d", i/4)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `---
# Source: big/templates/%[1]s/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
    app.kubernetes.io/instance: big
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      containers:
        - name: app
          image: "registry.example.com/%[1]s:1.0.0"
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef: {name: %[1]s-config}
            - secretRef: {name: %[1]s-secret}
          readinessProbe:
            httpGet: {path: /health, port: http}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 256Mi}
`, app)
		case 1:
			fmt.Fprintf(&b, `---
# Source: big/templates/%[1]s/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
    - name: http
      port: 80
      targetPort: http
`, app)
		case 2:
			fmt.Fprintf(&b, `---
# Source: big/templates/%[1]s/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-config
data:
  LOG_LEVEL: "info"   # verbose in staging
  FEATURE_FLAGS: 'a,b,c'
  SETTINGS: |
    retries = 3
    timeout = "10s"
`, app)
		case 3:
			fmt.Fprintf(&b, `---
# Source: big/templates/%[1]s/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: %[1]s-secret
type: Opaque
data:
  password: c2VjcmV0LXZhbHVlLWZvci1iZW5jaG1hcmtz
`, app)
		}
	}
	return b.Bytes()
}
