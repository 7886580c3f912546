package helmplugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/exitcode"
)

func TestVersion(t *testing.T) {
	tests := []struct{ build, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3-rc.1"},
		{"v0.4.0-0.20260101120000-abcdef123456", "0.4.0-0.20260101120000-abcdef123456"},
		{"devel", "0.0.0-devel"},
		{"abcdef123456", "0.0.0-devel"},
		{"v1.2", "0.0.0-devel"},
		{"v1.2.3+dirty", "0.0.0-devel"},
		{"", "0.0.0-devel"},
	}
	for _, tt := range tests {
		if got := Version(tt.build); got != tt.want {
			t.Errorf("Version(%q) = %q, want %q", tt.build, got, tt.want)
		}
	}
}

func TestValidCommand(t *testing.T) {
	tests := []struct {
		command string
		want    bool
	}{
		{"bgrender", true},
		{"/usr/local/bin/bgrender", true},
		{"~/bin/bgrender-1.2_x+y@z", true},
		{"", false},
		{"has space", false},
		{"x\ny: z", false},
		{`a"b`, false},
		{"a'b", false},
		{"${HELM_PLUGIN_DIR}/bgrender", false},
	}
	for _, tt := range tests {
		if got := ValidCommand(tt.command); got != tt.want {
			t.Errorf("ValidCommand(%q) = %v, want %v", tt.command, got, tt.want)
		}
	}
}

func TestManifest(t *testing.T) {
	m, err := Manifest("1.2.3", "/opt/bgrender")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: bgrender", "1.2.3", "type: postrenderer/v1", "- command: /opt/bgrender", "- postrender"} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q:\n%s", want, m)
		}
	}
}

// fakeHelm writes a helm that prints version for `helm version` and does
// what env says for `helm env HELM_PLUGINS`.
func fakeHelm(t *testing.T, version, env string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "helm")
	script := "#!/bin/sh\ncase $1 in\nversion) printf '%s' '" + version + "' ;;\nenv) " + env + " ;;\nesac\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestInstall(t *testing.T) {
	plugins := t.TempDir()
	other := t.TempDir()
	tests := []struct {
		name     string
		opts     InstallOptions
		wantDir  string // the plugins folder installed into
		wantErr  string
		wantCode int
	}{
		{"given folder", InstallOptions{PluginsDir: plugins, Helm: "/no/such/helm"}, plugins, "", 0},
		{"asked helm 4", InstallOptions{Helm: fakeHelm(t, "v4.0.1", "echo "+plugins)}, plugins, "", 0},
		{"first of several", InstallOptions{Helm: fakeHelm(t, "v4.0.1", "echo "+plugins+string(os.PathListSeparator)+other)}, plugins, "", 0},
		{"helm 3", InstallOptions{Helm: fakeHelm(t, "v3.19.0", "echo "+plugins)}, "", "is Helm v3.19.0, which has no post-renderer plugins", exitcode.Invalid},
		{"helm fails", InstallOptions{Helm: fakeHelm(t, "v4.0.1", "echo broken >&2; exit 1")}, "", "env HELM_PLUGINS: exit status 1: broken", exitcode.Failure},
		{"helm prints nothing", InstallOptions{Helm: fakeHelm(t, "v4.0.1", "true")}, "", "env HELM_PLUGINS printed nothing; use --plugins-dir", exitcode.Failure},
		{"no helm", InstallOptions{Helm: filepath.Join(t.TempDir(), "helm")}, "", "is helm on PATH? or use --plugins-dir", exitcode.Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Version = "1.2.3"
			target, err := Install(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitcode.Of(err) != tt.wantCode {
					t.Fatalf("err %v (exit %d), want %q (exit %d)", err, exitcode.Of(err), tt.wantErr, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(tt.wantDir, Name); target != want {
				t.Errorf("installed in %s, want %s", target, want)
			}
			manifest, err := os.ReadFile(filepath.Join(target, "plugin.yaml"))
			if err != nil || !strings.Contains(string(manifest), "command: ${HELM_PLUGIN_DIR}/bgrender") || !strings.Contains(string(manifest), "1.2.3") {
				t.Errorf("plugin.yaml: %v\n%s", err, manifest)
			}
			self, _ := os.Executable()
			self, _ = filepath.EvalSymlinks(self)
			if link, err := os.Readlink(filepath.Join(target, Name)); err != nil || link != self {
				t.Errorf("the plugin links to %q (%v), want the running binary %s", link, err, self)
			}
		})
	}
}
