package loop

import "testing"

// TestKwokStages: the embedded stage configuration holds the five Stages
// copied from kwok and the data plane's pod-ready (no binary needed).
func TestKwokStages(t *testing.T) {
	objs, err := DecodeYAML(kwokStages)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() != "Stage" || o.GetAPIVersion() != "kwok.x-k8s.io/v1alpha1" {
			t.Errorf("%s %s/%s is not a kwok Stage", o.GetAPIVersion(), o.GetKind(), o.GetName())
		}
		names = append(names, o.GetName())
	}
	want := []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-ready-data-plane", "pod-complete", "pod-delete"}
	if len(names) != len(want) {
		t.Fatalf("stages %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("stages %v, want %v", names, want)
		}
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/BurntSushi/toml"); got != "github.com/!burnt!sushi/toml" {
		t.Errorf("got %q", got)
	}
}
