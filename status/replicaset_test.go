package status_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/status"
)

// TestReadReplicaSets reads each color's current ReplicaSet from a real
// API server: among those its Deployment controls, the one with the
// highest revision; a ReplicaSet of another Deployment, however recent,
// is not the color's. One list request, by the color label.
func TestReadReplicaSets(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := setupShop(t, ctx, srv, "status-rs")
	uid := func(name string) types.UID {
		d, err := srv.Dynamic().Resource(cluster.Deployments).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.GetUID()
	}
	owners := map[string]types.UID{"shop-blue": uid("shop-blue"), "shop-green": uid("shop-green"), "elsewhere": "0d6e5b2a-1111-4c3b-9a7e-000000000000"}
	for _, rs := range []struct{ name, owner, color, revision string }{
		{"shop-blue-old", "shop-blue", "blue", "1"},
		{"shop-blue-new", "shop-blue", "blue", "3"},
		{"shop-green-only", "shop-green", "green", "2"},
		{"other-green", "elsewhere", "green", "9"},
	} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "ReplicaSet",
			"metadata": map[string]any{"name": rs.name, "namespace": ns,
				"labels":          map[string]any{"version": rs.color, "app.kubernetes.io/name": "shop"},
				"annotations":     map[string]any{"deployment.kubernetes.io/revision": rs.revision},
				"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": rs.owner, "uid": string(owners[rs.owner]), "controller": true}}},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"version": rs.color}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"version": rs.color}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "shop:v1"}}}}},
		}}
		if _, err := srv.Dynamic().Resource(status.ReplicaSets).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	app, err := newReader(t, srv.RESTConfig(), ns).Get(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	if err := c.reader(t, srv.RESTConfig(), ns).ReadReplicaSets(ctx, app); err != nil {
		t.Fatal(err)
	}
	if reqs := c.take(); len(reqs) != 1 || !strings.Contains(reqs[0], "labelSelector=version+in+%28blue%2Cgreen%29") {
		t.Errorf("requests %q, want one list by the color label", reqs)
	}
	var got []string
	for _, col := range app.Colors {
		rs := col.ReplicaSet
		if rs == nil {
			got = append(got, col.Color+": none")
			continue
		}
		if time.Since(rs.Created) > time.Minute || rs.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("%s created %s", rs.Name, rs.Created)
		}
		got = append(got, fmt.Sprintf("%s: %s revision %d", col.Color, rs.Name, rs.Revision))
	}
	if want := "blue: shop-blue-new revision 3, green: shop-green-only revision 2"; strings.Join(got, ", ") != want {
		t.Errorf("current ReplicaSets %q, want %q", strings.Join(got, ", "), want)
	}
}
