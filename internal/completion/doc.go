// Package completion writes bgrender's shell completion scripts for bash,
// zsh and fish.
//
// The scripts are generated from a plain description of the commands: each
// command's name, one-line summary, usage line (the arguments after the
// command's name, as its help shows them) and its real *pflag.FlagSet. What
// a flag's value completes to is read from the flag itself: booleans take
// none; a usage that lists output formats or colors offers them; a FILE,
// DIR or BINARY placeholder (`FILE` in the usage text) offers paths or
// programs. A usage line that starts with FILE or DIR, or with words such as
// "install|print", tells what positional arguments complete to. So a new
// flag or command completes without anyone editing this package.
//
// The program name, bgrender, is part of the scripts (the function names
// and the command they complete).
package completion
