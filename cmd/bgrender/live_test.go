package main

import (
	"strings"
	"testing"
)

// TestLiveFlagsUsage: --wait-live and --reconcile act on a pushed change;
// what cannot work is refused (exit 2) before Git or the cluster is
// touched.
func TestLiveFlagsUsage(t *testing.T) {
	repo := []string{"--repo", "/nonexistent/gitops", "--path", "apps/web"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "--wait-live", "--dry-run"}, "not with --dry-run"},
		{[]string{"rollback", "--reconcile", "kustomization/flux-system/web", "--dry-run"}, "not with --dry-run"},
		{[]string{"deploy", "--image", "web:2", "--wait-live", "--pull-request"}, "need --wait-merge"},
		{[]string{"promote", "--reconcile", "helmrelease/flux-system/web"}, `kind "helmrelease" is not kustomization`},
		{[]string{"promote", "--reconcile", "flux-system/web"}, "want KIND/NAMESPACE/NAME"},
		{[]string{"rollback", "--reconcile", "application/Argo_CD/web"}, `namespace "Argo_CD"`},
		{[]string{"promote", "--wait-live", "--live-timeout", "0s"}, "--live-timeout 0s: want a positive duration"},
		{[]string{"promote", "--steps", "10,25,50"}, "the last step must be 100"},
		{[]string{"promote", "--steps", "25,10,100"}, "the steps must increase"},
		{[]string{"promote", "--steps", "0,100"}, `"0" is not a percentage from 1 to 100`},
		{[]string{"promote", "--steps", "10,100", "--pull-request"}, "one pull request per step"},
		{[]string{"promote", "--step-wait", "1m"}, "need --steps"},
	} {
		res := runCLI(t, "", append(tc.args, repo...)...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) || res.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, res.code, res.stdout, res.stderr, tc.want)
		}
	}
}
