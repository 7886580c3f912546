package promote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// autoscaledSpec is an app folder's spec with an HPA per color.
const autoscaledSpec = `apiVersion: bgrender.io/v1alpha1
kind: BlueGreenApp
metadata: {name: web, namespace: prod}
spec:
  blue: {image: "web:1"}
  green: {image: "web:1"}
  ports: [{name: http, containerPort: 8080, servicePort: 80}]
  resources: {requests: {cpu: 100m}}
  autoscaling:
    minReplicas: 3
    maxReplicas: 6
`

// TestScaleIdleOfAnAutoscaledApp: scaling the idle color of an
// autoscaled app sets its HPA's floor (autoscaling.idleMinReplicas), not
// idleReplicas, which the spec refuses beside autoscaling; 0 and more
// than maxReplicas are refused before anything is written.
func TestScaleIdleOfAnAutoscaledApp(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, SpecFile, autoscaledSpec)
	l, err := openLayout(dir, PlainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.state().Replicas["green"]; got != 3 {
		t.Errorf("the idle color's floor %d, want minReplicas 3", got)
	}
	for n, want := range map[int32]string{0: "cannot scale to 0 (minReplicas 0 needs the HPAScaleToZero feature gate)", 7: "7 is more than the idle color's maxReplicas (6)"} {
		err := l.setIdleReplicas(n)
		if exitcode.Of(err) != exitcode.Invalid || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scale the idle color to %d: %v, want exit 2 with %q", n, err, want)
		}
	}
	if err := l.setIdleReplicas(1); err != nil {
		t.Fatal(err)
	}
	if err := l.save(); err != nil {
		t.Fatalf("the edited spec: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "  autoscaling:\n    idleMinReplicas: 1\n") || strings.Contains(string(data), "idleReplicas") {
		t.Errorf("the spec after scale-idle:\n%s", data)
	}
	hpa, err := os.ReadFile(filepath.Join(dir, "horizontalpodautoscaler-web-green.yaml"))
	if err != nil || !strings.Contains(string(hpa), "minReplicas: 1\n") {
		t.Errorf("the idle color's rendered HPA: %v\n%s", err, hpa)
	}
}
