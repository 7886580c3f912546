package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

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
		long: `Render one or more BlueGreenApp specs into Kubernetes manifests: the blue and
green Deployments, the active Service <name> and the preview Service
<name>-preview, the ServiceAccount, NetworkPolicies, and, when the spec asks
for them, the ResourceQuota, PodDisruptionBudgets and Ingresses.

FILE "-" reads standard input; a file may hold several specs separated by
"---". Output is deterministic: the same input gives byte-identical output.
On invalid input nothing is written and every problem is listed with its
file, line and field.

--format argo-rollouts renders, for teams that keep the Argo Rollouts
controller, one Rollout <name> (strategy blueGreen, activeService <name>,
previewService <name>-preview, no automatic promotion) in place of the two
Deployments, AnalysisTemplates from spec.gates, and the Services, policies,
quota, budget and Ingresses fitted to the Rollout's pods. --output and
--output-dir work with either format.`,
		example: `  # Render the article's example as a YAML stream
  bgrender render examples/seed/app.yaml

  # Render to a directory with a kustomization.yaml, for Argo CD or Flux
  bgrender render examples/seed/app.yaml --output-dir deploy/my-application

  # Read the spec from standard input and print a JSON List
  cat app.yaml | bgrender render - -o json

  # Render an Argo Rollout and its AnalysisTemplates instead of Deployments
  bgrender render examples/seed/app.yaml --format argo-rollouts`,
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

// MaxSpecSize bounds a spec file: two thousand apps fit in it, and
// decoding, validating and rendering hold up to ~300 times the input.
const MaxSpecSize = 2 << 20

func readFileLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSpecSize+1))
	if err == nil && len(data) > MaxSpecSize {
		err = fmt.Errorf("larger than %d MiB; split it into several files", MaxSpecSize>>20)
	}
	return data, err
}

// loadApps reads, decodes, defaults and validates every file, and reports
// the problems of all files together.
func loadApps(files []string, stdin io.Reader) ([]*spec.BlueGreenApp, error) {
	if len(files) == 0 {
		return nil, usageError("no input: name one or more spec files, or - for standard input")
	}
	var (
		apps []*spec.BlueGreenApp
		errs spec.ErrorList
	)
	readStdin := false
	for _, file := range files {
		var (
			data []byte
			err  error
			name = file
		)
		if file == "-" {
			if readStdin {
				return nil, usageError("standard input (-) can be read only once")
			}
			readStdin = true
			name = "<stdin>"
			data, err = readLimited(stdin)
		} else {
			data, err = readFileLimited(file)
		}
		if err != nil {
			return nil, exitcode.InvalidInput(fmt.Errorf("read %s: %w", name, unwrapPathError(err)))
		}
		loaded, err := spec.Load(name, data)
		if list, ok := err.(spec.ErrorList); ok {
			errs = append(errs, list...)
			continue
		}
		apps = append(apps, loaded...)
	}
	if len(errs) > 0 {
		return nil, exitcode.InvalidInput(errs)
	}
	if err := checkUnique(apps); err != nil {
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

// checkUnique rejects two specs for the same app, which would render the
// same objects twice.
func checkUnique(apps []*spec.BlueGreenApp) error {
	seen := map[string]*spec.BlueGreenApp{}
	var errs spec.ErrorList
	for _, app := range apps {
		key := app.Metadata.Namespace + "/" + app.Metadata.Name
		if first, dup := seen[key]; dup {
			errs = append(errs, &spec.FieldError{
				File: app.Source.File, Line: app.Source.LineOf("metadata.name"), Path: "metadata.name",
				Msg: fmt.Sprintf("app %q is also defined in %s:%d", app.Metadata.Name, first.Source.File, first.Source.LineOf("metadata.name")),
			})
			continue
		}
		seen[key] = app
	}
	return errs.Err()
}

// unwrapPathError drops the operation and path that os adds, since the
// caller already names the file.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
