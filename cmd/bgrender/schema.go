package main

import (
	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/spec"
)

func schemaCommand() *command {
	return &command{
		name:    "schema",
		summary: "print the JSON Schema of the BlueGreenApp spec",
		usage:   "[flags]",
		long: `Print a JSON Schema (draft-07) of the BlueGreenApp spec. Editors that use
yaml-language-server (VS Code's YAML extension, Neovim, Helix) offer
completion and checks with it: save it and point a modeline at it.`,
		example: schemaExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			return func(args []string) error {
				if len(args) > 0 {
					return usageError("schema takes no arguments")
				}
				_, err := s.out.Write(spec.JSONSchema())
				return err
			}
		},
	}
}
