package main

import (
	"slices"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/completion"
)

// completionCommand prints a shell completion script. internal/completion
// writes it from the commands' own flag sets and usage lines, so a new flag
// or command completes without anyone editing either.
func completionCommand() *command {
	return &command{
		name:    "completion",
		summary: "print a shell completion script (bash, zsh or fish)",
		usage:   "bash|zsh|fish",
		long: `Print a completion script for bash, zsh or fish. It completes the commands,
each command's flags, color values (blue, green, and idle where a flag takes
it), the -o/--output formats, and file and folder arguments.`,
		example: completionExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("expected one shell: bash, zsh or fish")
				}
				if !slices.Contains(completion.Shells, args[0]) {
					return usageError("unknown shell %q: expected bash, zsh or fish", args[0])
				}
				return completion.Write(s.out, args[0], completionModel(commands()))
			}
		},
	}
}

// completionModel describes every command, with its real flag set, for the
// completion scripts.
func completionModel(cmds []*command) []completion.Command {
	var out []completion.Command
	for _, c := range cmds {
		fs, _, _ := c.flags(streams{})
		out = append(out, completion.Command{Name: c.name, Summary: c.summary, Usage: c.usage, Flags: fs})
	}
	return out
}
