package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/rollouts"
	"github.com/bgrender/bgrender/spec"
)

func importCommand() *command {
	return &command{
		name:    "import",
		summary: "turn an Argo Rollout (blueGreen) into a BlueGreenApp spec",
		usage:   "FILE...",
		long:    importLong,
		example: importExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			return func(args []string) error {
				if len(args) == 0 {
					return usageError("no input: name one or more files with the Rollout, its Services and AnalysisTemplates, or - for standard input")
				}
				files, err := readInputs(args, s)
				if err != nil {
					return err
				}
				app, notes, err := rollouts.Import(files)
				if err != nil {
					return exitcode.InvalidInput(err)
				}
				out, err := rollouts.EncodeSpec(app)
				if err != nil {
					return err
				}
				// What comes out must be a spec that bgrender accepts.
				if _, err := spec.Load("the imported spec", out); err != nil {
					return exitcode.InvalidInput(fmt.Errorf("the Rollout maps to a spec that bgrender rejects:\n%w", err))
				}
				for _, n := range notes {
					fmt.Fprintf(s.err, "not imported: %s\n", n)
				}
				var buf bytes.Buffer
				buf.Write(out)
				_, err = s.out.Write(buf.Bytes())
				return err
			}
		},
	}
}

// readInputs reads every named file, "-" from standard input once.
func readInputs(args []string, s streams) ([]rollouts.File, error) {
	var files []rollouts.File
	readStdin := false
	for _, name := range args {
		var (
			data []byte
			err  error
		)
		if name == "-" {
			if readStdin {
				return nil, usageError("standard input (-) can be read only once")
			}
			readStdin = true
			data, err = spec.ReadLimited(s.in)
			name = "<stdin>"
		} else {
			data, err = spec.ReadFile(name)
		}
		if err != nil {
			return nil, exitcode.InvalidInput(fmt.Errorf("read %s: %w", name, spec.UnwrapPathError(err)))
		}
		files = append(files, rollouts.File{Name: name, Data: data})
	}
	return files, nil
}
