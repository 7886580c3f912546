// Command bgrender-chart renders a Helm chart to standard output as `helm
// template` does, with the Helm SDK. `bgrender deploy --chart` runs it;
// it is a command of its own because the Helm SDK's packages would double
// bgrender's start-up time as a post-renderer (see package chartrender).
//
//	bgrender-chart [flags] CHART
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/chartrender"
	"github.com/bgrender/bgrender/internal/exitcode"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		var out []byte
		if out, err = chartrender.Render(ctx, o); err == nil {
			_, err = stdout.Write(out)
		}
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "bgrender-chart: %v\n", err)
	var input *chartrender.InputError
	if errors.As(err, &input) {
		return exitcode.Invalid
	}
	return exitcode.Of(err)
}

// parse reads helm template's flags that bgrender deploy --chart passes.
func parse(args []string, stderr io.Writer) (chartrender.Options, error) {
	o := chartrender.Options{Log: stderr}
	fs := pflag.NewFlagSet("bgrender-chart", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bgrender-chart [flags] CHART\n\nRender a Helm chart (a directory, a .tgz, REPO/NAME or oci://) as `helm template` does.\n\nFlags:\n%s", fs.FlagUsages())
	}
	fs.StringVar(&o.Version, "version", "", "the chart `VERSION` (constraint) of a repository or OCI chart")
	fs.StringVar(&o.ReleaseName, "release-name", "release-name", "`NAME` of the release (.Release.Name)")
	fs.StringVarP(&o.Namespace, "namespace", "n", "default", "`NAMESPACE` of the release (.Release.Namespace)")
	fs.StringArrayVarP(&o.ValueFiles, "values", "f", nil, "values `FILE` (repeatable; later files win)")
	fs.StringArrayVar(&o.Values, "set", nil, "set a value, `KEY=VALUE` (repeatable; wins over the files)")
	fs.StringArrayVar(&o.StringValues, "set-string", nil, "set a string value, `KEY=VALUE` (repeatable)")
	fs.StringVar(&o.KubeVersion, "kube-version", "", "Kubernetes `VERSION` for .Capabilities.KubeVersion")
	fs.StringArrayVarP(&o.APIVersions, "api-versions", "a", nil, "Kubernetes `API` version for .Capabilities.APIVersions (repeatable)")
	fs.BoolVar(&o.IncludeCRDs, "include-crds", false, "include the chart's CRDs")
	fs.BoolVar(&o.NoHooks, "no-hooks", false, "leave out the hooks")
	fs.BoolVar(&o.SkipTests, "skip-tests", false, "leave out the test hooks")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return o, err
		}
		return o, exitcode.InvalidInput(err)
	}
	if fs.NArg() != 1 {
		return o, exitcode.Invalidf("give one chart (a directory, a .tgz, REPO/NAME or oci://REF); got %d arguments", fs.NArg())
	}
	o.Chart = fs.Arg(0)
	return o, nil
}
