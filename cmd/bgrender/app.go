package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// streams are the standard streams of one run; tests pass buffers.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand: its help text, its flags, and what it runs.
type command struct {
	name    string
	summary string
	usage   string // arguments after the command name
	long    string
	example string
	// setup registers the command's flags and returns the function that runs
	// it with the remaining arguments.
	setup func(fs *pflag.FlagSet, s streams) func(args []string) error
}

func commands() []*command {
	return []*command{
		renderCommand(),
		validateCommand(),
		postrenderCommand(),
		helmPluginCommand(),
		deployCommand(),
		promoteCommand(),
		releaseCommand(),
		rollbackCommand(),
		scaleIdleCommand(),
		contractCommand(),
		shiftCommand(),
		statusCommand(),
		checkCommand(),
		guardCommand(),
		schemaCommand(),
		importCommand(), // the Argo Rollouts bridge (rollouts/)
		versionCommand(),
		completionCommand(),
	}
}

const overview = `bgrender gives Kubernetes teams zero-downtime blue/green releases with no
in-cluster controller and no kubectl: one BlueGreenApp spec in, blue and green
Deployments, an active and a preview Service, and their policies out.

Exit codes: 0 success (also "nothing to do"), 1 runtime failure, 2 bad usage
or invalid input, 3 a gate refused the promotion.`

// run executes one bgrender invocation and returns its exit code. It is the
// whole CLI; main only exits with the code.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	s := streams{in: in, out: out, err: errOut}
	cmds := commands()
	if asPostRenderer(args, in) {
		// Helm 3 runs the post-renderer with only --post-renderer-args, so
		// "--post-renderer bgrender" works with the same arguments as the
		// Helm 4 plugin.
		args = append([]string{"postrender"}, args...)
	}
	if len(args) == 0 {
		writeOverview(errOut, cmds)
		return exitcode.Invalid
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 && name == "help" {
			if c := find(cmds, args[1]); c != nil {
				writeHelp(out, c)
				return exitcode.OK
			}
			fmt.Fprintf(errOut, "bgrender: unknown command %q\n", args[1])
			return exitcode.Invalid
		}
		writeOverview(out, cmds)
		return exitcode.OK
	case "--version":
		name = "version"
	}
	c := find(cmds, name)
	if c == nil {
		hint := ""
		var names []string
		for _, c := range cmds {
			names = append(names, c.name)
		}
		if best := spec.Closest(name, names); best != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", best)
		}
		fmt.Fprintf(errOut, "bgrender: unknown command %q%s\nRun 'bgrender --help' for the list of commands.\n", name, hint)
		return exitcode.Invalid
	}
	fs, runFn, help := c.flags(s)
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(errOut, "bgrender %s: %v\nRun 'bgrender %s --help' for usage.\n", c.name, err, c.name)
		return exitcode.Invalid
	}
	if *help {
		writeHelp(out, c)
		return exitcode.OK
	}
	if err := runFn(fs.Args()); err != nil {
		fmt.Fprintf(errOut, "%s\n", errorText(c.name, err))
		return exitcode.Of(err)
	}
	return exitcode.OK
}

// asPostRenderer reports whether bgrender was started as Helm 3 starts a
// post-renderer: no command, only flags (or nothing), and manifests piped
// to standard input rather than a terminal.
func asPostRenderer(args []string, in io.Reader) bool {
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "--help" || a == "--version" || !strings.HasPrefix(a, "-"):
			return false
		}
	}
	f, ok := in.(*os.File)
	if !ok {
		return len(args) > 0 // in-process runs: flags without a command
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice == 0
}

// errorText prefixes an error with the command; a list of located
// problems (file:line: field: …) is printed as it is, one per line.
func errorText(cmd string, err error) string {
	inner := err
	if coded, ok := err.(*exitcode.Error); ok {
		inner = coded.Err
	}
	// Only a list that is the whole error: one that an action wrapped
	// (the spec of an app folder in Git) keeps the command and folder.
	if list, ok := inner.(spec.ErrorList); ok {
		return list.Error()
	}
	return "bgrender " + cmd + ": " + err.Error()
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func writeOverview(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  bgrender COMMAND [flags] [args]\n\nCommands:\n", overview)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'bgrender COMMAND --help' for a command's flags and examples.\n")
}

// flags builds the flag set of a command, with -h/--help.
func (c *command) flags(s streams) (*pflag.FlagSet, func([]string) error, *bool) {
	fs := pflag.NewFlagSet("bgrender "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	runFn := c.setup(fs, s)
	help := fs.BoolP("help", "h", false, "show this help")
	return fs, runFn, help
}

func writeHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  bgrender %s %s\n", c.long, c.name, c.usage)
	fs, _, _ := c.flags(streams{})
	fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
	if c.example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.example, "\n"))
	}
}

// usageError is bad usage of a command: exit code 2.
func usageError(format string, args ...any) error { return exitcode.Invalidf(format, args...) }
