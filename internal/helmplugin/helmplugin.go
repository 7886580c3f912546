package helmplugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/templates"
)

// Name is the name Helm 4 knows the post-renderer plugin by.
const Name = "bgrender"

var semverRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$`)

// Version is the plugin version for bgrender's build version: the version
// itself when it is a release (strict semver, without the v), else
// 0.0.0-devel.
func Version(buildVersion string) string {
	if m := semverRE.FindStringSubmatch(buildVersion); m != nil {
		return m[1]
	}
	return "0.0.0-devel"
}

// commandRE is what a manifest's command may be: it is written into
// plugin.yaml unquoted, and Helm runs it as one executable.
var commandRE = regexp.MustCompile(`^[A-Za-z0-9/._+@~-]+$`)

// ValidCommand reports whether command can be the command of a manifest: a
// name on PATH or an absolute path, without spaces, quotes or other
// special characters.
func ValidCommand(command string) bool { return commandRE.MatchString(command) }

// Manifest renders the plugin.yaml of the given plugin version that runs
// command (see ValidCommand).
func Manifest(version, command string) (string, error) {
	return templates.HelmPlugin(templates.HelmPluginData{Version: version, Command: command})
}

// InstallOptions say where Install puts the plugin.
type InstallOptions struct {
	// PluginsDir is Helm's plugins folder; empty means to ask Helm.
	PluginsDir string
	// Helm is the helm binary asked for its plugins folder; it must be a
	// Helm 4.
	Helm string
	// Version is the plugin's version (see Version).
	Version string
}

// Install writes the plugin into the plugins folder and returns the
// plugin's folder.
func Install(o InstallOptions) (string, error) {
	dir := o.PluginsDir
	if dir == "" {
		if err := requireHelm4(o.Helm); err != nil {
			return "", err
		}
		var err error
		if dir, err = pluginsDir(o.Helm); err != nil {
			return "", err
		}
	}
	return install(dir, o.Version)
}

// requireHelm4 refuses a Helm that has no post-renderer plugins.
func requireHelm4(helmBin string) error {
	out, err := exec.CommandContext(context.Background(), helmBin, "version", "--template", "{{.Version}}").Output()
	if err != nil {
		return nil // pluginsDir says what is wrong with it
	}
	if v := strings.TrimSpace(string(out)); strings.HasPrefix(v, "v3.") || strings.HasPrefix(v, "v2.") {
		return exitcode.Invalidf("%s is Helm %s, which has no post-renderer plugins: give Helm 3 the bgrender binary itself (--post-renderer \"$(command -v bgrender)\")", helmBin, v)
	}
	return nil
}

// pluginsDir asks Helm where its plugins live.
func pluginsDir(helmBin string) (string, error) {
	out, err := exec.CommandContext(context.Background(), helmBin, "env", "HELM_PLUGINS").Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("%s env HELM_PLUGINS: %v: %s", helmBin, err, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", fmt.Errorf("find Helm's plugins folder (is helm on PATH? or use --plugins-dir): %w", err)
	}
	// HELM_PLUGINS may list several folders; install into the first.
	dir := strings.TrimSpace(strings.Split(strings.TrimSpace(string(out)), string(os.PathListSeparator))[0])
	if dir == "" {
		return "", fmt.Errorf("%s env HELM_PLUGINS printed nothing; use --plugins-dir", helmBin)
	}
	return dir, nil
}

// install writes <dir>/bgrender/plugin.yaml and links the running bgrender
// binary beside it, so that the command has no spaces in it.
func install(dir, version string) (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return "", fmt.Errorf("find the bgrender binary: %w", err)
	}
	if strings.Contains(filepath.ToSlash(self), "/go-build") && !strings.HasSuffix(self, ".test") {
		// go run builds into Go's cache, which may delete the binary.
		return "", exitcode.Invalidf("this bgrender was built by go run into Go's build cache, which may delete it; install bgrender first (go install ./cmd/bgrender, or make build) and run that one")
	}
	target := filepath.Join(dir, Name)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", err
	}
	manifest, err := Manifest(version, "${HELM_PLUGIN_DIR}/"+Name)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(target, "plugin.yaml"), []byte(manifest), 0o644); err != nil {
		return "", err
	}
	link := filepath.Join(target, Name)
	tmp := link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(self, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", err
	}
	return target, nil
}
