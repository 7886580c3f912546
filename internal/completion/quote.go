package completion

import "strings"

// ShellQuote quotes s for a POSIX shell: in single quotes, each single
// quote inside s closing the quotes, escaped, and reopening them.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshQuote makes s safe inside a single-quoted _arguments spec or
// _describe entry: brackets and colons are escaped, quotes closed and
// reopened.
func zshQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`, `'`, `'\''`)
	return r.Replace(s)
}

// fishQuote single-quotes s for fish, where \ and ' are escaped inside.
func fishQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
