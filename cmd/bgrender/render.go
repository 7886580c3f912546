package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

func renderCommand() *command {
	return &command{
		name:    "render",
		summary: "render BlueGreenApp specs into Kubernetes manifests",
		usage:   "FILE... [flags]",
		long:    renderLong,
		example: renderExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			output := fs.StringP("output", "o", "yaml", "output format: yaml or json")
			dir := fs.String("output-dir", "", "write one file per object and a kustomization.yaml into `DIR` instead of standard output")
			format := fs.String("format", formatDeployments, "what to render: "+formatDeployments+" (blue and green Deployments) or "+formatArgoRollouts+" (an Argo Rollout)")
			return func(args []string) error {
				if *output != "yaml" && *output != "json" {
					return usageError("--output %q: expected yaml or json", *output)
				}
				if *format != formatDeployments && *format != formatArgoRollouts {
					return usageError("--format %q: expected %s or %s", *format, formatDeployments, formatArgoRollouts)
				}
				if *dir != "" && fs.Changed("output") {
					return usageError("--output and --output-dir cannot be used together")
				}
				if fs.Changed("output-dir") && *dir == "" {
					return usageError("--output-dir: name a directory")
				}
				apps, err := loadApps(args, s.in)
				if err != nil {
					return err
				}
				warn(s.err, apps)
				objs := renderFormat(*format, apps, s.err)
				if *dir != "" {
					if err := render.WriteDir(*dir, objs); err != nil {
						return err
					}
					fmt.Fprintf(s.err, "wrote %d objects and kustomization.yaml to %s\n", len(objs), *dir)
					return nil
				}
				var buf bytes.Buffer
				write := render.WriteYAML
				if *output == "json" {
					write = render.WriteJSON
				}
				if err := write(&buf, objs); err != nil {
					return err
				}
				_, err = s.out.Write(buf.Bytes())
				return err
			}
		},
	}
}

// The formats of render --format.
const (
	formatDeployments  = "deployments"
	formatArgoRollouts = "argo-rollouts"
)

// renderFormat renders the apps in a format, printing on w what the
// format cannot carry.
func renderFormat(format string, apps []*spec.BlueGreenApp, w io.Writer) []render.Object {
	if format != formatArgoRollouts {
		return render.Render(apps)
	}
	for _, app := range apps {
		for _, msg := range rollouts.Warnings(app) {
			fmt.Fprintf(w, "warning: %s\n", msg)
		}
	}
	return rollouts.Render(apps)
}

// loadApps reads, decodes, defaults and validates every file, and reports
// the problems of all files together (exit 2).
func loadApps(files []string, stdin io.Reader) ([]*spec.BlueGreenApp, error) {
	apps, err := spec.LoadFiles(files, stdin)
	if err != nil {
		return nil, exitcode.InvalidInput(err)
	}
	return apps, nil
}

// warn prints what spec.Warnings finds, one line each, on w.
func warn(w io.Writer, apps []*spec.BlueGreenApp) {
	for _, app := range apps {
		for _, problem := range spec.Warnings(app) {
			fmt.Fprintf(w, "warning: %s\n", problem)
		}
	}
}
