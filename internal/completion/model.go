package completion

import (
	"regexp"
	"strings"

	"github.com/spf13/pflag"
)

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

// buildModel reads every command's flag set and usage line.
func buildModel(cmds []Command) []complCommand {
	var out []complCommand
	for _, c := range cmds {
		cc := complCommand{name: c.Name, summary: c.Summary}
		if c.Flags != nil {
			c.Flags.VisitAll(func(f *pflag.Flag) {
				if f.Hidden {
					return
				}
				cc.flags = append(cc.flags, flagModel(f))
			})
		}
		cc.args, cc.argWords = argsModel(c.Usage)
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
