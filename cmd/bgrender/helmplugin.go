package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/helmplugin"
)

func helmPluginCommand() *command {
	return &command{
		name:    "helm-plugin",
		summary: "install or print the Helm 4 post-renderer plugin",
		usage:   "install|print [flags]",
		long:    helmpluginLong,
		example: helmPluginExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var o helmPluginOptions
			fs.StringVar(&o.helm, "helm", "helm", "the Helm 4 `BINARY` whose plugins folder to use")
			fs.StringVar(&o.pluginsDir, "plugins-dir", "", "install into this plugins `DIR` instead of asking helm")
			fs.StringVar(&o.command, "command", helmplugin.Name, "for print: the `COMMAND` Helm runs (a name on PATH or an absolute path without spaces)")
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("expected install or print")
				}
				switch args[0] {
				case "print":
					if fs.Changed("plugins-dir") || fs.Changed("helm") {
						return usageError("--plugins-dir and --helm are for install")
					}
					return printHelmPlugin(s, o)
				case "install":
					if fs.Changed("command") {
						return usageError("--command is for print; install runs this bgrender binary")
					}
					return installHelmPlugin(s, o)
				}
				return usageError("unknown action %q: expected install or print", args[0])
			}
		},
	}
}

// helmPluginOptions are helm-plugin's flags.
type helmPluginOptions struct {
	helm, pluginsDir, command string
}

// printHelmPlugin writes the plugin.yaml that runs --command.
func printHelmPlugin(s streams, o helmPluginOptions) error {
	if !helmplugin.ValidCommand(o.command) {
		return usageError("--command %q: expected a command name or an absolute path, without spaces, quotes or other special characters", o.command)
	}
	manifest, err := helmplugin.Manifest(helmplugin.Version(buildVersion()), o.command)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(s.out, manifest)
	return err
}

// installHelmPlugin installs the plugin for --helm or into --plugins-dir.
func installHelmPlugin(s streams, o helmPluginOptions) error {
	target, err := helmplugin.Install(helmplugin.InstallOptions{
		PluginsDir: o.pluginsDir,
		Helm:       o.helm,
		Version:    helmplugin.Version(buildVersion()),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "installed the %s post-renderer plugin in %s\nuse it with: helm install|upgrade ... --post-renderer %s --post-renderer-args --from-release=RELEASE\n", helmplugin.Name, target, helmplugin.Name)
	return nil
}
