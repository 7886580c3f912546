package main

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// TestOverlayCLI: the commands on a kustomize overlay (the repository of
// testdata/gitops/overlays): promote --dry-run -o json prints one document
// whose diff touches the production overlay only; what cannot be done is
// exit 2 with nothing on stdout and no commit.
func TestOverlayCLI(t *testing.T) {
	seed := t.TempDir()
	copyDir(t, "../../testdata/gitops/overlays", seed)
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "gitops", seed)
	repo := []string{"--repo", url, "--path", "apps/production"}

	got := decodeResult(t, runCLI(t, "", append([]string{"promote", "--dry-run", "-o", "json"}, repo...)...))
	if got.App != "podinfo" || got.From != "blue" || got.To != "green" || !strings.Contains(got.Diff, "+++ b/apps/production/bgrender-patch.yaml") ||
		strings.Contains(got.Diff, "apps/base/") || strings.Contains(got.Diff, "apps/staging/") {
		t.Errorf("promote --dry-run on the overlay: %+v", got)
	}

	head := srv.Head(t, "gitops", "main")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "--file", "service.yaml"}, "--file service.yaml: apps/production is a kustomize overlay"},
		{[]string{"deploy", "--image", "ghcr.io/stefanprodan/podinfo:6.6.0", "--service", "nginx"}, "apps/production is a kustomize overlay; its build (Deployment podinfo-blue, Deployment podinfo-green, Service podinfo, Service podinfo-preview) is read as a plain folder"},
	} {
		res := runCLI(t, "", append(tc.args, repo...)...)
		if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("bgrender %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, %q", strings.Join(tc.args, " "), res.code, res.stdout, res.stderr, tc.want)
		}
	}
	if now := srv.Head(t, "gitops", "main"); now != head {
		t.Errorf("a refusal committed %s", now)
	}
}
