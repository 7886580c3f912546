package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/apptest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/status"
)

// apiServer returns the test binary's API server: the one TestMain
// started, if any, else one started for this test and stopped after it.
// Without the binaries it skips under -short and fails otherwise.
func apiServer(t *testing.T) *kubetest.Server {
	t.Helper()
	if s := kubetest.Current(); s != nil {
		return s
	}
	bins, err := kubetest.FindBinaries()
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kubetest.StartTimeout+10*time.Second)
	defer cancel()
	srv, err := kubetest.StartWith(ctx, bins)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// TestStatusCLI runs `bgrender status` in-process against a real API
// server through a kubeconfig file, as a person or a CI job would.
func TestStatusCLI(t *testing.T) {
	srv := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "cli-status", nil)
	for _, name := range []string{"web", "api"} {
		app, err := apptest.Spec(name, ns, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := apptest.Create(ctx, srv, app); err != nil {
			t.Fatal(err)
		}
	}
	if err := apptest.SetStatus(ctx, srv.Dynamic(), ns, "web-blue", apptest.RolledOut); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", "") // only the flags count

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // each must appear
		stderr string
	}{
		{name: "one app", args: []string{"status", "web", "-n", ns}, stdout: []string{
			"app web in namespace " + ns + ": live color blue (label bgrender.io/color)",
			"blue (live)  web-blue    2        2        2      2          complete",
			"green        web-green   2        0        0      0          progressing: waiting for the controller to observe generation 1",
			"web-preview  preview  green    0/0    <none>",
		}},
		{name: "every app", args: []string{"status", "--namespace", ns, "--context", "kubetest"}, stdout: []string{
			"APP  LIVE  BLUE", "api  blue  0/2 progressing", "web  blue  2/2 complete",
		}},
		{name: "absent app", args: []string{"status", "shop", "-n", ns}, code: 1, stderr: `bgrender status: app "shop" not found in namespace "` + ns + `"`},
		{name: "empty namespace", args: []string{"status", "-n", "default"}, stderr: "no bgrender apps in namespace default"},
		{name: "unknown context", args: []string{"status", "--context", "prod"}, code: 2, stderr: `context "prod" does not exist`},
		{name: "bad output", args: []string{"status", "-o", "yaml"}, code: 2, stderr: "--output must be table or json"},
		{name: "two apps", args: []string{"status", "a", "b"}, code: 2, stderr: "at most one app name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--kubeconfig", kubeconfig)
			r := runCLI(t, "", args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			if tc.code != 0 && r.stdout != "" {
				t.Errorf("a failing command wrote to stdout: %q", r.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.stderr)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, "", "status", "web", "-n", ns, "-o", "json", "--kubeconfig", kubeconfig)
		var app status.App
		if err := json.Unmarshal([]byte(r.stdout), &app); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		if app.Live != "blue" || app.Colors[0].Rollout != "complete" || app.Services[1].Name != "web-preview" {
			t.Errorf("%+v", app)
		}
		r = runCLI(t, "", "status", "-n", ns, "-o", "json", "--kubeconfig", kubeconfig)
		var list status.List
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Apps) != 2 || list.Namespace != ns {
			t.Errorf("list: %v %+v", err, list)
		}
	})
}
