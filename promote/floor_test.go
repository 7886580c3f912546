package promote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

const hpaGreen = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: application-green
  namespace: production
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: application-green}
  minReplicas: 2 # the quiet hours
  maxReplicas: 10
`

// TestPlainFloors: a plain folder whose idle color has an autoscaler is
// held at its minReplicas; scale-idle sets that, never 0; a raise records
// the configured floor and its restore gives back the file as it was.
func TestPlainFloors(t *testing.T) {
	dir := copyPlain(t)
	write(t, dir, "hpa.yaml", hpaGreen)
	open := func() *plain {
		t.Helper()
		p, err := openPlain(dir, PlainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := open()
	if f := p.st.Floors[spec.Green]; f.Autoscaler != "application-green" || f.Min != 2 || p.st.Replicas[spec.Green] != 2 || p.st.Autoscalers[spec.Green] != "application-green" {
		t.Fatalf("green's floor %+v, replicas %d", f, p.st.Replicas[spec.Green])
	}
	if f := p.st.Floors[spec.Blue]; f.Autoscaler != "" || f.Min != 3 {
		t.Errorf("blue's floor %+v: want its Deployment's 3 replicas", f)
	}
	if err := p.setIdleReplicas(0); exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "minReplicas cannot be 0") {
		t.Errorf("scale-idle 0 on an autoscaled color: %v", err)
	}
	if err := p.setIdleReplicas(4); err != nil {
		t.Fatal(err)
	}
	if err := p.save(); err != nil {
		t.Fatal(err)
	}
	if got := open().st.Floors[spec.Green].Min; got != 4 {
		t.Errorf("after scale-idle 4, green's minReplicas is %d", got)
	}
	write(t, dir, "hpa.yaml", hpaGreen)

	p = open()
	if err := p.setFloor(spec.Green, 6, 2); err != nil {
		t.Fatal(err)
	}
	p.save()
	raised, _ := os.ReadFile(filepath.Join(dir, "hpa.yaml"))
	if f := open().st.Floors[spec.Green]; f.Min != 6 || f.Configured != 2 || !strings.Contains(string(raised), "minReplicas: 6 # the quiet hours") {
		t.Errorf("raised: %+v\n%s", f, raised)
	}
	p = open()
	if err := p.setFloor(spec.Green, 2, 0); err != nil {
		t.Fatal(err)
	}
	p.save()
	if restored, _ := os.ReadFile(filepath.Join(dir, "hpa.yaml")); string(restored) != hpaGreen {
		t.Errorf("restored:\n%s\nwant:\n%s", restored, hpaGreen)
	}
}

// TestManagedFloors: in a managed folder, the raise writes the idle
// color's spec.<color>.autoscaling.matchedMinReplicas (over its
// idleMinReplicas) and the restore deletes it, giving back the spec as
// it was; a raise above maxReplicas, or into a color written in flow
// style, is exit 2. Without autoscaling the raise is spec.idleReplicas.
func TestManagedFloors(t *testing.T) {
	dir := t.TempDir()
	block := strings.Replace(autoscaledSpec, `green: {image: "web:1"}`, "green:\n    image: web:1", 1) + "    idleMinReplicas: 1\n"
	write(t, dir, SpecFile, block)
	open := func() *managed {
		t.Helper()
		l, err := openLayout(dir, PlainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.(*managed)
	}
	m := open()
	if f := m.st.Floors[spec.Green]; f.Autoscaler != "web-green" || f.Min != 1 || f.Configured != 0 {
		t.Fatalf("green's floor %+v", f)
	}
	if err := m.setFloor(spec.Green, 7, 1); exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "more than green's maxReplicas (6)") {
		t.Errorf("a raise over maxReplicas: %v", err)
	}
	if err := m.setFloor(spec.Green, 5, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	if f := open().st.Floors[spec.Green]; f.Min != 5 || f.Configured != 1 {
		t.Errorf("raised: %+v", f)
	}
	if hpa, _ := os.ReadFile(filepath.Join(dir, "horizontalpodautoscaler-web-green.yaml")); !strings.Contains(string(hpa), "minReplicas: 5\n") {
		t.Errorf("green's HPA after the raise:\n%s", hpa)
	}
	m = open()
	if err := m.setFloor(spec.Green, 1, 0); err != nil {
		t.Fatal(err)
	}
	m.save()
	if restored, _ := os.ReadFile(filepath.Join(dir, SpecFile)); string(restored) != block {
		t.Errorf("restored:\n%s\nwant:\n%s", restored, block)
	}

	write(t, dir, SpecFile, autoscaledSpec) // green: {image: ...}
	if err := open().setFloor(spec.Green, 5, 3); exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "write spec.green in block style") {
		t.Errorf("a raise into a flow-style color: %v", err)
	}
	write(t, dir, SpecFile, strings.Replace(autoscaledSpec, "  autoscaling:\n    minReplicas: 3\n    maxReplicas: 6\n", "  replicas: 3\n  idleReplicas: 1\n", 1))
	m = open()
	if f := m.st.Floors[spec.Green]; f.Autoscaler != "" || f.Min != 1 {
		t.Fatalf("green's floor without autoscaling %+v", f)
	}
	if err := m.setFloor(spec.Green, 3, 0); err != nil {
		t.Fatal(err)
	}
	m.save()
	if s, _ := os.ReadFile(filepath.Join(dir, SpecFile)); !strings.Contains(string(s), "  idleReplicas: 3\n") {
		t.Errorf("without autoscaling:\n%s", s)
	}
}
