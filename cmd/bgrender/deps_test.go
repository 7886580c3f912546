package main

import (
	"os/exec"
	"strings"
	"testing"
)

// bgrender starts on every Helm install as a post-renderer; the Helm SDK's
// rendering packages would double its start-up (their init: JSON Schema,
// the Kubernetes scheme, registry clients), so they live in bgrender-chart
// only. This keeps them out of bgrender.
func TestHelmSDKStaysOutOfBgrender(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, pkg := range []string{
		"github.com/bgrender/bgrender/chartrender",
		"helm.sh/helm/v3/pkg/action",
		"helm.sh/helm/v3/pkg/engine",
		"helm.sh/helm/v3/pkg/chartutil",
		"helm.sh/helm/v3/pkg/chart/loader",
		"github.com/santhosh-tekuri/jsonschema/v6",
	} {
		for _, d := range deps {
			if d == pkg {
				t.Errorf("bgrender links %s: its init slows every start-up; keep it in bgrender-chart (chartrender)", pkg)
			}
		}
	}
}
