package completion

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fakeCommands is a tiny command set with one flag of every kind.
func fakeCommands() []Command {
	deploy := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	deploy.SortFlags = false // as bgrender registers them: the scripts keep this order
	deploy.String("color", "idle", "the `COLOR` to deploy to")
	deploy.StringP("output", "o", "text", "output format: text, yaml or json")
	deploy.StringP("file", "f", "", "read the spec from `FILE`")
	deploy.String("chart-dir", "", "the chart `DIR`")
	deploy.String("helm", "helm", "the `BINARY` to run")
	deploy.String("image", "", "the image to deploy; any text")
	deploy.Bool("dry-run", false, "print, do not apply")
	deploy.String("secret", "", "not for completion")
	_ = deploy.MarkHidden("secret")

	plugin := pflag.NewFlagSet("plugin", pflag.ContinueOnError)
	plugin.String("plugins-dir", "", "install into this plugins `DIR`")

	return []Command{
		{Name: "deploy", Summary: "deploy an app", Usage: "[flags]", Flags: deploy},
		{Name: "validate", Summary: "check spec files", Usage: "FILE... [flags]"},
		{Name: "plugin", Summary: "install or print the plugin", Usage: "install|print [flags]", Flags: plugin},
	}
}

func script(t *testing.T, shell string, cmds []Command) string {
	t.Helper()
	var b strings.Builder
	if err := Write(&b, shell, cmds); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriteScripts(t *testing.T) {
	tests := []struct {
		shell   string
		want    []string
		notWant []string
	}{
		{"bash", []string{
			"complete -F _bgrender bgrender",
			`compgen -W 'deploy validate plugin help --help --version'`,
			"\tdeploy)\n",
			`--color)` + "\n\t\t\t" + `COMPREPLY=($(compgen -W 'idle blue green' -- "$cur"))`,
			`--output|-o)` + "\n\t\t\t" + `COMPREPLY=($(compgen -W 'text yaml json' -- "$cur"))`,
			`--file|-f)` + "\n\t\t\t" + `_bgrender_compgen_files "$cur"`,
			`--chart-dir)` + "\n\t\t\t" + `_bgrender_compgen_dirs "$cur"`,
			`--helm)` + "\n\t\t\t" + `COMPREPLY=($(compgen -c -- "$cur"))`,
			`--image)` + "\n\t\t\t:",
			`compgen -W '--color --output -o --file -f --chart-dir --helm --image --dry-run'`,
			"\tvalidate)\n",
			`COMPREPLY=($(compgen -W 'install print' -- "$cur"))`,
		}, []string{"--secret", "--dry-run)"}},
		{"zsh", []string{
			"#compdef bgrender",
			"'deploy:deploy an app'",
			"'--color[the COLOR to deploy to]:color:(idle blue green)'",
			"'(-o --output)'{-o,--output}'[output format]:output:(text yaml json)'",
			"'(-f --file)'{-f,--file}'[read the spec from FILE]:file:_files'",
			"'--chart-dir[the chart DIR]:chart-dir:_files -/'",
			"'--helm[the BINARY to run]:helm:_command_names -e'",
			"'--dry-run[print, do not apply]'",
			"'*:argument:(install print)'",
			"'*:argument:_files'",
		}, []string{"--secret"}},
		{"fish", []string{
			"complete -c bgrender -f\n",
			"complete -c bgrender -n '__fish_use_subcommand' -a deploy -d 'deploy an app'\n",
			"complete -c bgrender -n '__fish_seen_subcommand_from help' -a 'deploy validate plugin'\n",
			"-l color -x -a 'idle blue green'",
			"-l output -s o -x -a 'text yaml json' -d 'output format'",
			"-l file -s f -r -F",
			"-l chart-dir -x -a '(__fish_complete_directories)'",
			"-l helm -x -a '(__fish_complete_command)'",
			"-l image -x -d 'the image to deploy'",
			"-l dry-run -d 'print, do not apply'",
			"complete -c bgrender -n '__fish_seen_subcommand_from validate' -F\n",
			"complete -c bgrender -n '__fish_seen_subcommand_from plugin' -a 'install print'\n",
		}, []string{"--secret", "-l secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			s := script(t, tt.shell, fakeCommands())
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("the script lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(s, w) {
					t.Errorf("the script has %q:\n%s", w, s)
				}
			}
		})
	}
}

func TestWriteUnknownShell(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, "powershell", fakeCommands()); err == nil || !strings.Contains(err.Error(), "bash, zsh or fish") || b.Len() != 0 {
		t.Errorf("powershell: err %v, wrote %q; want an error naming the shells and nothing written", err, b.String())
	}
}

// TestScriptsParse checks the scripts' syntax with the shells that are
// installed (-n: read, do not run).
func TestScriptsParse(t *testing.T) {
	cmds := fakeCommands()
	cmds[0].Summary = `it's [odd]: a \ "quoted" $summary`
	for _, shell := range Shells {
		t.Run(shell, func(t *testing.T) {
			bin, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("%s is not installed", shell)
			}
			cmd := exec.Command(bin, "-n")
			cmd.Stdin = strings.NewReader(script(t, shell, cmds))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		})
	}
}

func TestQuoting(t *testing.T) {
	tests := []struct {
		in, shell, zsh, fish string
	}{
		{"plain", "'plain'", "plain", "'plain'"},
		{"", "''", "", "''"},
		{"it's", `'it'\''s'`, `it'\''s`, `'it\'s'`},
		{`a\b`, `'a\b'`, `a\\b`, `'a\\b'`},
		{"[x]: y", "'[x]: y'", `\[x\]\: y`, "'[x]: y'"},
		{`$HOME "q" *`, `'$HOME "q" *'`, `$HOME "q" *`, `'$HOME "q" *'`},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.shell {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.shell)
		}
		if got := zshQuote(tt.in); got != tt.zsh {
			t.Errorf("zshQuote(%q) = %s, want %s", tt.in, got, tt.zsh)
		}
		if got := fishQuote(tt.in); got != tt.fish {
			t.Errorf("fishQuote(%q) = %s, want %s", tt.in, got, tt.fish)
		}
	}
}

// TestShellQuoteRoundTrip has a POSIX shell read ShellQuote's output back.
func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"it's", `a\b`, `$HOME "q" * ''`, "two\nlines", "--flag=value"} {
		out, err := exec.Command(sh, "-c", "printf '%s' "+ShellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh read %s back as %q (%v), want %q", ShellQuote(s), out, err, s)
		}
	}
}

func TestArgsModel(t *testing.T) {
	tests := []struct {
		usage string
		kind  valueKind
		words []string
	}{
		{"FILE... [flags]", valueFile, nil},
		{"[FILE...] [flags]", valueFile, nil},
		{"DIR [flags]", valueDir, nil},
		{"install|print [flags]", valueWords, []string{"install", "print"}},
		{"bash|zsh|fish", valueWords, []string{"bash", "zsh", "fish"}},
		{"APP [flags]", valueFree, nil},
		{"[flags]", valueFree, nil},
		{"", valueFree, nil},
	}
	for _, tt := range tests {
		kind, words := argsModel(tt.usage)
		if kind != tt.kind || !reflect.DeepEqual(words, tt.words) {
			t.Errorf("argsModel(%q) = %v %q, want %v %q", tt.usage, kind, words, tt.kind, tt.words)
		}
	}
}

func TestFlagModel(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Bool("wait", false, "wait for it")
	fs.StringP("output", "o", "yaml", "output format: yaml or json")
	fs.String("to", "", "the color to promote to: blue or green")
	fs.String("color", "idle", "the `COLOR`")
	fs.String("state", "", "idle, blue or green")
	fs.String("kubeconfig", "", "the kubeconfig `FILE`")
	fs.String("out-dir", "", "write into `DIR`")
	fs.String("helm", "", "the helm `BINARY`")
	fs.String("name", "", "a name")
	tests := []struct {
		flag  string
		kind  valueKind
		words []string
	}{
		{"wait", valueNone, nil},
		{"output", valueWords, []string{"yaml", "json"}},
		{"to", valueWords, []string{"blue", "green"}},
		{"color", valueWords, []string{"idle", "blue", "green"}},
		{"state", valueWords, []string{"idle", "blue", "green"}},
		{"kubeconfig", valueFile, nil},
		{"out-dir", valueDir, nil},
		{"helm", valueCmd, nil},
		{"name", valueFree, nil},
	}
	for _, tt := range tests {
		f := flagModel(fs.Lookup(tt.flag))
		if f.kind != tt.kind || !reflect.DeepEqual(f.words, tt.words) {
			t.Errorf("--%s: %v %q, want %v %q", tt.flag, f.kind, f.words, tt.kind, tt.words)
		}
	}
}

func TestFirstClause(t *testing.T) {
	tests := []struct{ in, want string }{
		{"the namespace", "the namespace"},
		{"the color; blue or green", "the color"},
		{"wait (at most --timeout)", "wait"},
		{"output format: yaml or json", "output format"},
		{"a summary — with a dash", "a summary"},
		{strings.Repeat("x", 80), strings.Repeat("x", 67) + "..."},
	}
	for _, tt := range tests {
		if got := firstClause(tt.in); got != tt.want {
			t.Errorf("firstClause(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
