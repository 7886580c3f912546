package postrender

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// TestClusterLooksElsewhere: with a namespace guessed from the kubeconfig,
// a Deployment found only in another namespace is an error (exit 2, asking
// for --namespace) rather than a first install over the live color.
func TestClusterLooksElsewhere(t *testing.T) {
	d := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web-green", "namespace": "staging"},
	}}
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), d)
	ctx := context.Background()
	if got, err := (&Cluster{Client: client}).Deployment(ctx, "default", "web-green"); got != nil || err != nil {
		t.Fatalf("namespace given: %v, %v", got, err)
	}
	_, err := (&Cluster{Client: client, NamespaceGuessed: true}).Deployment(ctx, "default", "web-green")
	if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), "not in namespace default (the kubeconfig's) but in staging") {
		t.Fatalf("err = %v", err)
	}
	if got, err := (&Cluster{Client: client, NamespaceGuessed: true}).Deployment(ctx, "default", "api-green"); got != nil || err != nil {
		t.Fatalf("nowhere: %v, %v", got, err)
	}
}
