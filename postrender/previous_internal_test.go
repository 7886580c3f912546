package postrender

import "testing"

// TestIndexManifestReadsLists: a release whose Deployments and Services
// bgrender wrote inside a kind: List is read item by item, so an upgrade
// keeps the live color of a chart that emits a List.
func TestIndexManifestReadsLists(t *testing.T) {
	manifest := `---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web-green}
  spec: {template: {spec: {containers: [{name: web, image: "web:1"}]}}}
- apiVersion: v1
  kind: Service
  metadata: {name: web, annotations: {bgrender.io/active-color: green}}
  spec: {selector: {app: web, bgrender.io/color: green}}
`
	st, err := indexManifest([]byte(manifest), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.deployments["shop/web-green"] == nil || st.colors["shop/web"] != "green" {
		t.Fatalf("deployments %v, colors %v", st.deployments, st.colors)
	}
}
