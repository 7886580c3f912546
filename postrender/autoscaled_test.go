package postrender_test

import (
	"strings"
	"testing"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/spec"
)

// hpaOf is a chart's HPA that scales the kind/name it is given.
func hpaOf(kind, name string) string {
	return "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: " + kind + ", name: " + name + "}\n  minReplicas: 2\n  maxReplicas: 6\n"
}

// replicasOf returns a Deployment's spec.replicas as written, "" when absent.
func replicasOf(t *testing.T, objs map[string]*kyaml.RNode, name string) string {
	t.Helper()
	d := objs["Deployment/"+name]
	if d == nil {
		t.Fatalf("no Deployment %s", name)
	}
	n, err := d.Pipe(kyaml.Lookup("spec", "replicas"))
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		return ""
	}
	return n.YNode().Value
}

// TestAutoscaledDeploymentHasNoReplicas: a chart Deployment that one of
// the chart's HPAs scales comes out in both colors without spec.replicas
// (whatever the order of the documents), each color's HPA scaling it; a
// Deployment that no HPA scales keeps its count.
func TestAutoscaledDeploymentHasNoReplicas(t *testing.T) {
	for name, in := range map[string]string{
		"HPA after": stream + hpaOf("Deployment", "web"),
		"HPA first": hpaOf("Deployment", "web") + stream,
	} {
		out := run(t, in, postrender.Options{})
		objs := docs(t, out)
		for _, c := range []string{"blue", "green"} {
			if r := replicasOf(t, objs, "web-"+c); r != "" {
				t.Errorf("%s: web-%s has replicas %s: the HPA owns that field", name, c, r)
			}
			if got := get(t, objs["HorizontalPodAutoscaler/web-"+c], "spec.scaleTargetRef.name"); got != "web-"+c {
				t.Errorf("%s: HPA web-%s scales %s", name, c, got)
			}
		}
		if strings.Count(out, `image: "example/web:1.0" # the image`) != 2 {
			t.Errorf("%s: the colors lost the rest of the Deployment (its quoting and comments):\n%s", name, out)
		}
	}
	for name, in := range map[string]string{
		"no HPA":               stream,
		"HPA of another name":  stream + hpaOf("Deployment", "api"),
		"HPA of a StatefulSet": stream + hpaOf("StatefulSet", "web"),
		"hook HPA":             stream + strings.Replace(hpaOf("Deployment", "web"), "metadata: {name: web}", "metadata: {name: web, annotations: {helm.sh/hook: post-install}}", 1),
	} {
		objs := docs(t, run(t, in, postrender.Options{}))
		for _, c := range []string{"blue", "green"} {
			if r := replicasOf(t, objs, "web-"+c); r != "2" {
				t.Errorf("%s: web-%s replicas %q, want the chart's 2", name, c, r)
			}
		}
	}
}

// TestKeptColorDropsReplicasOnceAnHPAScalesIt: a chart that adds an HPA
// to a Deployment that still writes replicas: the color kept from the
// previous release (which pinned replicas) is written without them too.
func TestKeptColorDropsReplicasOnceAnHPAScalesIt(t *testing.T) {
	live := docs(t, run(t, stream, postrender.Options{}))["Deployment/web-green"].MustString() // replicas: 2
	prev := memory{deployments: map[string]string{"/web-green": live}, active: spec.Green}
	objs := docs(t, run(t, stream+hpaOf("Deployment", "web"), postrender.Options{Previous: prev}))
	for _, c := range []string{"blue", "green"} {
		if r := replicasOf(t, objs, "web-"+c); r != "" {
			t.Errorf("web-%s has replicas %s: the HPA owns that field", c, r)
		}
	}
	if get(t, objs["Deployment/web-green"], "metadata.labels.bgrender\\.io/color") != "green" {
		t.Errorf("the kept green is not the previous one:\n%s", objs["Deployment/web-green"].MustString())
	}
}
