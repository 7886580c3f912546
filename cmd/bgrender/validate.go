package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

func validateCommand() *command {
	return &command{
		name:    "validate",
		summary: "check BlueGreenApp specs without rendering them",
		usage:   "FILE... [flags]",
		long: `Check one or more BlueGreenApp specs: strict decoding (unknown fields, wrong
types, duplicate keys, tabs) and every validation rule that render applies.
All problems are listed at once, each with its file, line and field path;
the exit code is 2 if there is any.`,
		example: `  # Check the bundled examples
  bgrender validate examples/*/app.yaml

  # Check a spec in a CI step, reading it from standard input
  bgrender validate - < app.yaml`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			quiet := fs.BoolP("quiet", "q", false, "print nothing on success")
			return func(args []string) error {
				apps, err := loadApps(args, s.in)
				if err != nil {
					return err
				}
				warn(s.err, apps)
				if !*quiet {
					for _, app := range apps {
						fmt.Fprintf(s.out, "%s: %s: valid\n", app.Source.File, app.Metadata.Name)
					}
				}
				return nil
			}
		},
	}
}
