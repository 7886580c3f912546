package gate_test

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/gate"
)

func ExampleRollout() {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web-green", Generation: 4},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2},
	}
	fmt.Println(gate.Rollout(d))
	// Output: progressing 2 of 3 replicas available
}

func ExampleExpandQuery() {
	fmt.Println(gate.ExpandQuery(`sum(rate(http_requests_total{{{colorLabel}}="{{color}}",code=~"5.."}[{{window}}]))`,
		gate.QueryVars{App: "web", ColorLabel: "bgrender.io/color", Color: "green", Window: 2 * time.Minute}))
	// Output: sum(rate(http_requests_total{bgrender_io_color="green",code=~"5.."}[120s]))
}
