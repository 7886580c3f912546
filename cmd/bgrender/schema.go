package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/spec"
)

func schemaCommand() *command {
	return &command{
		name:    "schema",
		summary: "print the JSON Schema of the BlueGreenApp spec (or of a fleet file)",
		usage:   "[--kind BlueGreenApp|Fleet] [flags]",
		long: `Print a JSON Schema (draft-07) of the BlueGreenApp spec, or with --kind Fleet
of the fleet file that release --fleet reads. Editors that use
yaml-language-server (VS Code's YAML extension, Neovim, Helix) offer
completion and checks with it: save it and point a modeline at it.`,
		example: schemaExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			kind := fs.String("kind", spec.Kind, "the kind whose schema to print: "+spec.Kind+" or "+fleet.Kind)
			return func(args []string) error {
				if len(args) > 0 {
					return usageError("schema takes no arguments")
				}
				var schema []byte
				switch {
				case strings.EqualFold(*kind, spec.Kind):
					schema = spec.JSONSchema()
				case strings.EqualFold(*kind, fleet.Kind):
					schema = fleet.JSONSchema()
				default:
					return usageError("--kind %q: expected %s or %s", *kind, spec.Kind, fleet.Kind)
				}
				_, err := s.out.Write(schema)
				return err
			}
		},
	}
}
