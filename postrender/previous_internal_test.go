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

// TestIndexManifestRefusesDuplicateKeys: a stored release with a key
// written twice (a chart installed before bgrender, which Helm applied
// keeping the last value) is not guessed at: carrying the first value to
// the live color would change what it runs. The error names the document,
// both lines, and --from-cluster, which reads what runs.
func TestIndexManifestRefusesDuplicateKeys(t *testing.T) {
	manifest := `---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: web
        image: web:1
        image: web:2
`
	_, err := indexManifest([]byte(manifest), "shop")
	want := "document 2: line 15: spec.template.spec.containers[0].image: duplicate key (first defined on line 14): read the previous state with --from-cluster instead"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
