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
