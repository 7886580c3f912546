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
		long:    validateLong,
		example: validateExamples,
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
