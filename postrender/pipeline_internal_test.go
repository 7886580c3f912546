package postrender

import (
	"context"
	"strings"
	"testing"
)

// TestFilterStandsAlone: a pipeline is its list of filters. With the
// deployments filter alone, the Deployment becomes blue and green while
// the Service that selects its pods passes through byte for byte.
func TestFilterStandsAlone(t *testing.T) {
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n"
	service := "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n"
	p := postRenderer
	p.filters = []filter{deployments}
	out, err := p.process(context.Background(), []byte(deployment+service), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: web-blue", "name: web-green", service} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "web-preview") {
		t.Errorf("the Service changed without the services filter:\n%s", out)
	}
	full, err := Run(context.Background(), []byte(deployment+service), Options{})
	if err != nil || !strings.Contains(string(full), "web-preview") {
		t.Fatalf("the full pipeline: %v\n%s", err, full)
	}
}
