package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/templates"
)

// pluginName is the name Helm 4 knows the post-renderer plugin by.
const pluginName = "bgrender"

var semverRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$`)

// pluginVersion is bgrender's version when it is a release, else 0.0.0-devel.
func pluginVersion() string {
	if m := semverRE.FindStringSubmatch(buildVersion()); m != nil {
		return m[1]
	}
	return "0.0.0-devel"
}

func helmPluginCommand() *command {
	return &command{
		name:    "helm-plugin",
		summary: "install or print the Helm 4 post-renderer plugin",
		usage:   "install|print [flags]",
		long: `Helm 4 runs post-renderers as plugins of type postrenderer/v1.

'install' writes the bgrender plugin into Helm's plugins folder (found with
'helm env HELM_PLUGINS', or given with --plugins-dir): a plugin.yaml and a
link to this bgrender binary. Then 'helm install ... --post-renderer bgrender'
uses it; --post-renderer-args are passed on to 'bgrender postrender'.

'print' writes the plugin.yaml to standard output, for a plugin folder that
'helm plugin install <folder>' installs (by default it runs bgrender from PATH).`,
		example: `  # Install for the helm on PATH
  bgrender helm-plugin install

  # Install into a given plugins folder
  bgrender helm-plugin install --plugins-dir "$(helm env HELM_PLUGINS)"

  # Or make a plugin folder and let Helm install it
  mkdir -p bgrender-plugin && bgrender helm-plugin print > bgrender-plugin/plugin.yaml
  helm plugin install ./bgrender-plugin`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			helmBin := fs.String("helm", "helm", "the Helm 4 `BINARY` whose plugins folder to use")
			pluginsDir := fs.String("plugins-dir", "", "install into this plugins `DIR` instead of asking helm")
			command := fs.String("command", pluginName, "for print: the `COMMAND` Helm runs (a name on PATH or an absolute path without spaces)")
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("expected install or print")
				}
				switch args[0] {
				case "print":
					if fs.Changed("plugins-dir") || fs.Changed("helm") {
						return usageError("--plugins-dir and --helm are for install")
					}
					if !pluginCommandRE.MatchString(*command) {
						return usageError("--command %q: expected a command name or an absolute path, without spaces, quotes or other special characters", *command)
					}
					manifest, err := templates.HelmPlugin(templates.HelmPluginData{Version: pluginVersion(), Command: *command})
					if err != nil {
						return err
					}
					_, err = fmt.Fprint(s.out, manifest)
					return err
				case "install":
					if fs.Changed("command") {
						return usageError("--command is for print; install runs this bgrender binary")
					}
					dir := *pluginsDir
					if dir == "" {
						if err := requireHelm4(*helmBin); err != nil {
							return err
						}
						var err error
						if dir, err = helmPluginsDir(*helmBin); err != nil {
							return err
						}
					}
					target, err := installHelmPlugin(dir)
					if err != nil {
						return err
					}
					fmt.Fprintf(s.err, "installed the %s post-renderer plugin in %s\nuse it with: helm install|upgrade ... --post-renderer %s --post-renderer-args --from-release=RELEASE\n", pluginName, target, pluginName)
					return nil
				}
				return usageError("unknown action %q: expected install or print", args[0])
			}
		},
	}
}

// pluginCommandRE is what --command may be: it is written into plugin.yaml
// unquoted, and Helm runs it as one executable.
var pluginCommandRE = regexp.MustCompile(`^[A-Za-z0-9/._+@~-]+$`)

// requireHelm4 refuses a Helm that has no post-renderer plugins.
func requireHelm4(helmBin string) error {
	out, err := exec.CommandContext(context.Background(), helmBin, "version", "--template", "{{.Version}}").Output()
	if err != nil {
		return nil // helmPluginsDir says what is wrong with it
	}
	if v := strings.TrimSpace(string(out)); strings.HasPrefix(v, "v3.") || strings.HasPrefix(v, "v2.") {
		return usageError("%s is Helm %s, which has no post-renderer plugins: give Helm 3 the bgrender binary itself (--post-renderer \"$(command -v bgrender)\")", helmBin, v)
	}
	return nil
}

// helmPluginsDir asks Helm where its plugins live.
func helmPluginsDir(helmBin string) (string, error) {
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

// installHelmPlugin writes <dir>/bgrender/plugin.yaml and links the running
// bgrender binary beside it, so that the command has no spaces in it.
func installHelmPlugin(dir string) (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return "", fmt.Errorf("find the bgrender binary: %w", err)
	}
	if strings.Contains(filepath.ToSlash(self), "/go-build") && !strings.HasSuffix(self, ".test") {
		// go run builds into Go's cache, which may delete the binary.
		return "", usageError("this bgrender was built by go run into Go's build cache, which may delete it; install bgrender first (go install ./cmd/bgrender, or make build) and run that one")
	}
	target := filepath.Join(dir, pluginName)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", err
	}
	manifest, err := templates.HelmPlugin(templates.HelmPluginData{
		Version: pluginVersion(),
		Command: "${HELM_PLUGIN_DIR}/" + pluginName,
	})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(target, "plugin.yaml"), []byte(manifest), 0o644); err != nil {
		return "", err
	}
	link := filepath.Join(target, pluginName)
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
