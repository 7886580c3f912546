package completion

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// Command describes one command for the completion scripts.
type Command struct {
	Name    string
	Summary string // one line; zsh and fish show it beside the name
	// Usage is what follows the command's name in its help, such as
	// "FILE... [flags]" or "install|print [flags]".
	Usage string
	// Flags is the command's flag set; hidden flags are left out. Nil
	// means no flags.
	Flags *pflag.FlagSet
}

// Shells are the shells Write has a script for.
var Shells = []string{"bash", "zsh", "fish"}

// Write writes the completion script of cmds for shell, one of Shells; it
// fails only on another shell (errors writing to w are not returned).
func Write(w io.Writer, shell string, cmds []Command) error {
	model := buildModel(cmds)
	switch shell {
	case "bash":
		writeBash(w, model)
	case "zsh":
		writeZsh(w, model)
	case "fish":
		writeFish(w, model)
	default:
		return fmt.Errorf("unknown shell %q: expected bash, zsh or fish", shell)
	}
	return nil
}
