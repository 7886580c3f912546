package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// completionCommand prints a shell completion script. The scripts are
// generated from the commands' own flag sets and usage lines, so a new flag
// or command completes without anyone editing this file.
func completionCommand() *command {
	return &command{
		name:    "completion",
		summary: "print a shell completion script (bash, zsh or fish)",
		usage:   "bash|zsh|fish",
		long: `Print a completion script for bash, zsh or fish. It completes the commands,
each command's flags, color values (blue, green, and idle where a flag takes
it), the -o/--output formats, and file and folder arguments.`,
		example: `  # bash, for the current shell
  source <(bgrender completion bash)

  # bash, for every new shell
  bgrender completion bash > /etc/bash_completion.d/bgrender

  # zsh: a file named _bgrender in a folder of $fpath
  bgrender completion zsh > "${fpath[1]}/_bgrender"

  # fish
  bgrender completion fish > ~/.config/fish/completions/bgrender.fish`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("expected one shell: bash, zsh or fish")
				}
				cmds := completionModel(commands())
				switch args[0] {
				case "bash":
					writeBashCompletion(s.out, cmds)
				case "zsh":
					writeZshCompletion(s.out, cmds)
				case "fish":
					writeFishCompletion(s.out, cmds)
				default:
					return usageError("unknown shell %q: expected bash, zsh or fish", args[0])
				}
				return nil
			}
		},
	}
}

// valueKind is what a flag's value or a positional argument completes to.
type valueKind int

const (
	valueNone  valueKind = iota // a flag without a value (a boolean)
	valueFree                   // any text: nothing to offer
	valueWords                  // one of a fixed list of words
	valueFile                   // a file path
	valueDir                    // a folder path
	valueCmd                    // a program on PATH
)

// complFlag is one flag as the completion scripts see it.
type complFlag struct {
	name, short string
	summary     string
	kind        valueKind
	words       []string
}

// complCommand is one command as the completion scripts see it.
type complCommand struct {
	name, summary string
	flags         []complFlag
	args          valueKind // what positional arguments complete to
	argWords      []string
}

var (
	outputFormats = regexp.MustCompile(`output format: ([a-z]+(?:, [a-z]+)*) or ([a-z]+)`)
	usageWords    = regexp.MustCompile(`^[a-z][a-z-]*(\|[a-z][a-z-]*)+$`)
)

// completionModel reads every command's real flag set and usage line.
func completionModel(cmds []*command) []complCommand {
	var out []complCommand
	for _, c := range cmds {
		fs, _, _ := c.flags(streams{})
		cc := complCommand{name: c.name, summary: c.summary}
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			cc.flags = append(cc.flags, flagModel(f))
		})
		cc.args, cc.argWords = argsModel(c.usage)
		out = append(out, cc)
	}
	return out
}

// flagModel decides what a flag's value completes to from the flag itself:
// booleans take none; a usage that lists output formats or colors offers
// them; a `FILE`, `DIR` or `BINARY` placeholder offers paths or programs.
func flagModel(f *pflag.Flag) complFlag {
	varname, usage := pflag.UnquoteUsage(f)
	cf := complFlag{name: f.Name, short: f.Shorthand, summary: firstClause(usage), kind: valueFree}
	switch {
	case f.NoOptDefVal != "":
		cf.kind = valueNone
	case f.Name == "output" && outputFormats.MatchString(usage):
		m := outputFormats.FindStringSubmatch(usage)
		cf.kind = valueWords
		cf.words = append(strings.Split(m[1], ", "), m[2])
	case varname == "COLOR" || strings.Contains(usage, "blue or green"):
		cf.kind = valueWords
		if strings.Contains(usage, "idle, blue or green") || f.DefValue == "idle" {
			cf.words = []string{"idle"}
		}
		cf.words = append(cf.words, "blue", "green")
	case varname == "FILE":
		cf.kind = valueFile
	case varname == "DIR":
		cf.kind = valueDir
	case varname == "BINARY":
		cf.kind = valueCmd
	}
	return cf
}

// argsModel reads what positional arguments are from a usage line such as
// "FILE... [flags]" or "install|print [flags]".
func argsModel(usage string) (valueKind, []string) {
	first, _, _ := strings.Cut(usage, " ")
	first = strings.Trim(first, "[]")
	switch {
	case strings.HasPrefix(first, "FILE"):
		return valueFile, nil
	case strings.HasPrefix(first, "DIR"):
		return valueDir, nil
	case usageWords.MatchString(first):
		return valueWords, strings.Split(first, "|")
	}
	return valueFree, nil
}

// firstClause is the start of a flag's help, for the shells that show one.
func firstClause(usage string) string {
	s := usage
	for _, sep := range []string{"; ", " (", ": ", " — "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	if len(s) > 70 {
		s = s[:67] + "..."
	}
	return s
}

// flagWords are a command's flags as they are typed: --name and -x.
func (c complCommand) flagWords() []string {
	var w []string
	for _, f := range c.flags {
		w = append(w, "--"+f.name)
		if f.short != "" {
			w = append(w, "-"+f.short)
		}
	}
	return w
}

func commandNames(cmds []complCommand) []string {
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	return names
}

// shellQuote quotes s for a POSIX shell (and for fish, which reads
// single quotes the same way except for backslashes, dropped here).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeBashCompletion(w io.Writer, cmds []complCommand) {
	fmt.Fprintf(w, `# bash completion for bgrender; generated by 'bgrender completion bash'.
# Load it with: source <(bgrender completion bash)

_bgrender_compgen_files() {
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -f -- "$1"))
}

_bgrender_compgen_dirs() {
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$1"))
}

_bgrender() {
	local cur prev cword
	COMPREPLY=()
	cword=$COMP_CWORD
	cur="${COMP_WORDS[cword]}"
	prev=""
	((cword > 0)) && prev="${COMP_WORDS[cword-1]}"
	# --flag=value: bash splits it at "=" (COMP_WORDBREAKS).
	if [[ $cur == "=" ]]; then
		cur=""
	elif [[ $prev == "=" ]] && ((cword > 1)); then
		prev="${COMP_WORDS[cword-2]}"
	fi
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W %s -- "$cur"))
		return 0
	fi
	case "${COMP_WORDS[1]}" in
`, shellQuote(strings.Join(append(commandNames(cmds), "help", "--help", "--version"), " ")))
	fmt.Fprintf(w, "\thelp)\n\t\t((cword == 2)) && COMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\treturn 0\n\t\t;;\n",
		shellQuote(strings.Join(commandNames(cmds), " ")))
	for _, c := range cmds {
		fmt.Fprintf(w, "\t%s)\n\t\tcase \"$prev\" in\n", c.name)
		for _, group := range bashValueGroups(c) {
			fmt.Fprintf(w, "\t\t%s)\n\t\t\t%s\n\t\t\treturn 0\n\t\t\t;;\n", strings.Join(group.flags, "|"), group.action)
		}
		fmt.Fprintf(w, "\t\tesac\n")
		fmt.Fprintf(w, "\t\tif [[ $cur == -* ]]; then\n\t\t\tCOMPREPLY=($(compgen -W %s -- \"$cur\"))\n\t\t\treturn 0\n\t\tfi\n",
			shellQuote(strings.Join(c.flagWords(), " ")))
		if a := bashAction(c.args, c.argWords); a != "" {
			fmt.Fprintf(w, "\t\t%s\n", a)
		}
		fmt.Fprintf(w, "\t\t;;\n")
	}
	fmt.Fprintf(w, "\tesac\n\treturn 0\n}\n\ncomplete -F _bgrender bgrender\n")
}

type bashGroup struct {
	flags  []string
	action string
}

// bashValueGroups groups a command's value-taking flags by what their value
// completes to, for one case arm each (a free value completes to nothing).
func bashValueGroups(c complCommand) []bashGroup {
	byAction := map[string][]string{}
	for _, f := range c.flags {
		if f.kind == valueNone {
			continue
		}
		a := bashAction(f.kind, f.words)
		if a == "" {
			a = ":" // a value is expected: offer nothing rather than flags
		}
		byAction[a] = append(byAction[a], "--"+f.name)
		if f.short != "" {
			byAction[a] = append(byAction[a], "-"+f.short)
		}
	}
	var groups []bashGroup
	for a, flags := range byAction {
		groups = append(groups, bashGroup{flags: flags, action: a})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].flags[0] < groups[j].flags[0] })
	return groups
}

func bashAction(kind valueKind, words []string) string {
	switch kind {
	case valueWords:
		return fmt.Sprintf(`COMPREPLY=($(compgen -W %s -- "$cur"))`, shellQuote(strings.Join(words, " ")))
	case valueFile:
		return `_bgrender_compgen_files "$cur"`
	case valueDir:
		return `_bgrender_compgen_dirs "$cur"`
	case valueCmd:
		return `COMPREPLY=($(compgen -c -- "$cur"))`
	}
	return ""
}

// zshQuote makes s safe inside a single-quoted _arguments spec or
// _describe entry: brackets and colons are escaped, quotes closed and
// reopened.
func zshQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`, `'`, `'\''`)
	return r.Replace(s)
}

func writeZshCompletion(w io.Writer, cmds []complCommand) {
	fmt.Fprintf(w, "#compdef bgrender\n# zsh completion for bgrender; generated by 'bgrender completion zsh'.\n")
	fmt.Fprintf(w, "# Save it as _bgrender in a folder of $fpath, or: source <(bgrender completion zsh)\n\n")
	fmt.Fprintf(w, "_bgrender() {\n\tlocal -a commands\n\tcommands=(\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "\t\t'%s:%s'\n", c.name, zshQuote(c.summary))
	}
	fmt.Fprintf(w, "\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe -t commands 'bgrender command' commands\n\t\treturn\n\tfi\n")
	fmt.Fprintf(w, "\tlocal cmd=${words[2]}\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n")
	fmt.Fprintf(w, "\thelp)\n\t\t_describe -t commands 'bgrender command' commands\n\t\t;;\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "\t%s)\n\t\t_arguments -s \\\n", c.name)
		for _, f := range c.flags {
			fmt.Fprintf(w, "\t\t\t%s \\\n", zshFlagSpec(f))
		}
		fmt.Fprintf(w, "\t\t\t%s\n\t\t;;\n", zshSpec("*:argument:", c.args, c.argWords))
	}
	fmt.Fprintf(w, "\tesac\n}\n\nif [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n\t_bgrender \"$@\"\nelse\n\tcompdef _bgrender bgrender\nfi\n")
}

func zshFlagSpec(f complFlag) string {
	desc := "[" + zshQuote(f.summary) + "]"
	value := ""
	if f.kind != valueNone {
		value = zshSpec(":"+f.name+":", f.kind, f.words)
	}
	if f.short == "" {
		return "'--" + f.name + desc + value + "'"
	}
	return "'(-" + f.short + " --" + f.name + ")'{-" + f.short + ",--" + f.name + "}'" + desc + value + "'"
}

// zshSpec is an _arguments action after its "message:" prefix; the result
// is single-quoted unless prefix starts a flag's value (inside quotes).
func zshSpec(prefix string, kind valueKind, words []string) string {
	action := " "
	switch kind {
	case valueWords:
		action = "(" + strings.Join(words, " ") + ")"
	case valueFile:
		action = "_files"
	case valueDir:
		action = "_files -/"
	case valueCmd:
		action = "_command_names -e"
	}
	if strings.HasPrefix(prefix, "*") {
		return "'" + prefix + action + "'"
	}
	return prefix + action
}

func writeFishCompletion(w io.Writer, cmds []complCommand) {
	fmt.Fprintf(w, "# fish completion for bgrender; generated by 'bgrender completion fish'.\n")
	fmt.Fprintf(w, "# Save it as ~/.config/fish/completions/bgrender.fish\n\n")
	fmt.Fprintf(w, "complete -c bgrender -f\n")
	names := strings.Join(commandNames(cmds), " ")
	for _, c := range cmds {
		fmt.Fprintf(w, "complete -c bgrender -n '__fish_use_subcommand' -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	fmt.Fprintf(w, "complete -c bgrender -n '__fish_seen_subcommand_from help' -a %s\n", fishQuote(names))
	for _, c := range cmds {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range c.flags {
			line := "complete -c bgrender -n " + cond + " -l " + f.name
			if f.short != "" {
				line += " -s " + f.short
			}
			switch f.kind {
			case valueWords:
				line += " -x -a " + fishQuote(strings.Join(f.words, " "))
			case valueFile:
				line += " -r -F"
			case valueDir:
				line += " -x -a '(__fish_complete_directories)'"
			case valueCmd:
				line += " -x -a '(__fish_complete_command)'"
			case valueFree:
				line += " -x"
			}
			fmt.Fprintf(w, "%s -d %s\n", line, fishQuote(f.summary))
		}
		switch c.args {
		case valueWords:
			fmt.Fprintf(w, "complete -c bgrender -n %s -a %s\n", cond, fishQuote(strings.Join(c.argWords, " ")))
		case valueFile:
			fmt.Fprintf(w, "complete -c bgrender -n %s -F\n", cond)
		case valueDir:
			fmt.Fprintf(w, "complete -c bgrender -n %s -x -a '(__fish_complete_directories)'\n", cond)
		}
	}
}

// fishQuote single-quotes s for fish, where \ and ' are escaped inside.
func fishQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
