package postrender_test

import (
	"testing"

	"github.com/bgrender/bgrender/postrender"
)

// TestQuotaCountsEachAutoscalerInItsNamespace: an HPA raises the count of
// the Deployment that it scales, in its own namespace only; a Deployment
// of the same name in another namespace keeps its replicas.
func TestQuotaCountsEachAutoscalerInItsNamespace(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "web:1"}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: b}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "web:1"}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: b}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 9
`
	objs := docs(t, run(t, in, postrender.Options{Quota: &postrender.QuotaOptions{}}))
	// a: 3 per color; b: 9 per color (the HPA's maximum); 24, plus 25%.
	if got := get(t, objs["ResourceQuota/bgrender"], "spec.hard.pods"); got != "30" {
		t.Errorf("pods = %s, want 30", got)
	}
}
