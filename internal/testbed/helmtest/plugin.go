package helmtest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// pluginProgram is the name of the link to the post-renderer program inside
// a plugin directory written by InstallPostRendererPlugin.
const pluginProgram = "postrenderer"

// validPluginName is what Helm 4 accepts as a plugin name.
var validPluginName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// PluginManifest is a Helm 4 plugin.yaml (apiVersion v1), as far as
// postrenderer/v1 plugins with the subprocess runtime need it.
type PluginManifest struct {
	APIVersion    string              `yaml:"apiVersion"`
	Type          string              `yaml:"type"`
	Name          string              `yaml:"name"`
	Version       string              `yaml:"version"`
	Runtime       string              `yaml:"runtime"`
	RuntimeConfig PluginRuntimeConfig `yaml:"runtimeConfig"`
}

// PluginRuntimeConfig is the runtimeConfig of the subprocess runtime.
type PluginRuntimeConfig struct {
	PlatformCommand []PluginCommand `yaml:"platformCommand"`
}

// PluginCommand is one entry of platformCommand; without os and arch it
// applies everywhere.
type PluginCommand struct {
	Command string   `yaml:"command"`
	Args    []string `yaml:"args,omitempty"`
}

// PostRendererPluginManifest returns the plugin.yaml that
// InstallPostRendererPlugin writes: a postrenderer/v1 plugin NAME, version
// 0.1.0, that runs ${HELM_PLUGIN_DIR}/postrenderer with args.
func PostRendererPluginManifest(name string, args ...string) ([]byte, error) {
	m := PluginManifest{
		APIVersion: "v1",
		Type:       "postrenderer/v1",
		Name:       name,
		Version:    "0.1.0",
		Runtime:    "subprocess",
		RuntimeConfig: PluginRuntimeConfig{
			PlatformCommand: []PluginCommand{{
				Command: "${HELM_PLUGIN_DIR}/" + pluginProgram,
				Args:    args,
			}},
		},
	}
	return yaml.Marshal(&m)
}

// InstallPostRendererPlugin installs, into h's isolated HELM_PLUGINS, a Helm
// 4 post-renderer plugin called name that runs the program at bin (for
// example BuildBgrender's) with args before the --post-renderer-args of a
// helm invocation. Use it as `--post-renderer name`. It fails the test when h
// is not Helm 4 or when the installation fails.
//
// The plugin directory, <tb.TempDir()>/name, holds the plugin.yaml of
// PostRendererPluginManifest and a symbolic link "postrenderer" to bin; Helm
// links $HELM_PLUGINS/name to it. Helm expands $VAR and ${VAR} in args (see
// the package documentation), so args must not contain a literal "$".
func InstallPostRendererPlugin(tb testing.TB, h *Helm, name, bin string, args ...string) {
	tb.Helper()
	if h.Major != 4 {
		tb.Fatalf("helmtest: post-renderer plugins are for Helm 4; Helm %d takes --post-renderer %s", h.Major, bin)
	}
	if !validPluginName.MatchString(name) {
		tb.Fatalf("helmtest: invalid plugin name %q: Helm 4 wants ^[A-Za-z0-9_-]+$", name)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		tb.Fatal(err)
	}
	if !isExecutable(abs) {
		tb.Fatalf("helmtest: post-renderer %s is not an executable file", abs)
	}
	for _, a := range args {
		if strings.Contains(a, "$") {
			tb.Fatalf("helmtest: plugin argument %q contains \"$\", which Helm would expand; pass it with --post-renderer-args instead", a)
		}
	}
	manifest, err := PostRendererPluginManifest(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.yaml"), manifest, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, pluginProgram)); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := h.Run(ctx, "plugin", "install", dir); err != nil {
		tb.Fatalf("helmtest: installing post-renderer plugin %s: %v", name, err)
	}
}
