package rollouts_test

import (
	"os"
	"testing"

	"github.com/bgrender/bgrender/rollouts"
)

// FuzzImport: no input makes Import panic, and what it accepts encodes.
func FuzzImport(f *testing.F) {
	for _, p := range []string{"../examples/argo-rollouts/rollout.yaml", "../examples/argo-rollouts/analysis-template.yaml", "../testdata/golden/argo-rollouts/gates.yaml", "../testdata/golden/argo-rollouts/full.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: 5\nspec: {strategy: {blueGreen: null}, template: []}\n"))
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: a}\nspec: {selector: {matchLabels: {a: b}}, strategy: {blueGreen: {activeService: a, prePromotionAnalysis: {templates: [{templateName: x}], args: [{name: n}]}}}, template: {spec: {containers: [{name: a, readinessProbe: {}}]}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		app, _, err := rollouts.Import([]rollouts.File{{Name: "in.yaml", Data: data}})
		if err != nil {
			return
		}
		if _, err := rollouts.EncodeSpec(app); err != nil {
			t.Fatalf("an imported app does not encode: %v", err)
		}
	})
}
