package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/internal/completion"
)

// completionScript is what `bgrender completion SHELL` prints, written to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	r := runCLI(t, "", "completion", shell)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("completion %s: exit %d, stderr %q", shell, r.code, r.stderr)
	}
	path := filepath.Join(t.TempDir(), "bgrender."+shell)
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needShell finds a shell, failing under CI=true when it is missing.
func needShell(t *testing.T, name string, required bool) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if required && os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed: %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return path
}

// bashComplete runs real bash's programmable completion as bash does on TAB:
// the script sourced, COMP_WORDS and COMP_CWORD set as bash splits line (at
// spaces and at "="), and the function that `complete -p bgrender` names
// called; it returns COMPREPLY sorted.
func bashComplete(t *testing.T, bash, script, dir, line string) []string {
	t.Helper()
	words := bashWords(line)
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, completion.ShellQuote(w))
	}
	prog := `set -u
source "$1"
fn=$(complete -p bgrender | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || { echo "no completion function registered for bgrender" >&2; exit 9; }
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=` + strconv.Itoa(len(words)-1) + `
COMP_LINE=` + completion.ShellQuote(line) + `
COMP_POINT=${#COMP_LINE}
"$fn" bgrender "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	sort.Strings(got)
	return got
}

// bashWords splits a command line as readline does for completion with the
// default COMP_WORDBREAKS: at spaces, and "=" is a word of its own; a
// trailing space starts an empty word.
func bashWords(line string) []string {
	var words []string
	for _, f := range strings.Split(line, " ") {
		if f == "" {
			continue
		}
		for i, part := range strings.Split(f, "=") {
			if i > 0 {
				words = append(words, "=")
			}
			if part != "" {
				words = append(words, part)
			}
		}
	}
	if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "=") {
		words = append(words, "")
	}
	return words
}

func TestCompletionBash(t *testing.T) {
	bash := needShell(t, "bash", true)
	script := completionScript(t, "bash")
	dir := t.TempDir()
	for _, f := range []string{"app.yaml", "apps/web/bgrender.yaml", "kube.conf"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		line string
		want []string
	}{
		{"bgrender ren", []string{"render"}},
		{"bgrender s", []string{"scale-idle", "schema", "shift", "status"}},
		{"bgrender help pro", []string{"promote"}},
		{"bgrender render --out", []string{"--output", "--output-dir"}},
		{"bgrender render -o ", []string{"json", "yaml"}},
		{"bgrender render --output=j", []string{"json"}},
		{"bgrender status -o ", []string{"json", "table"}},
		{"bgrender promote -o ", []string{"json", "text"}},
		{"bgrender deploy --color ", []string{"blue", "green", "idle"}},
		{"bgrender deploy --color=g", []string{"green"}},
		{"bgrender promote --to ", []string{"blue", "green"}},
		{"bgrender postrender --active ", []string{"blue", "green"}},
		{"bgrender check my-app --color ", []string{"blue", "green"}},
		{"bgrender render a", []string{"app.yaml", "apps"}},
		{"bgrender validate apps/web/", []string{"apps/web/bgrender.yaml"}},
		{"bgrender render --output-dir a", []string{"apps"}},
		{"bgrender status --kubeconfig k", []string{"kube.conf"}},
		{"bgrender deploy --image ", nil},
		{"bgrender completion ", []string{"bash", "fish", "zsh"}},
		{"bgrender helm-plugin p", []string{"print"}},
		{"bgrender deploy --wait-l", []string{"--wait-live"}},
		{"bgrender version -", []string{"--help", "-h"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got := bashComplete(t, bash, script, dir, tt.line)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("completion of %q = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// TestCompletionFlagsFromCommands checks that every flag of every command,
// as its own flag set registers it, completes after "bgrender CMD -", and
// that every -o/--output flag offers its formats.
func TestCompletionFlagsFromCommands(t *testing.T) {
	bash := needShell(t, "bash", true)
	script := completionScript(t, "bash")
	dir := t.TempDir()
	for _, c := range commands() {
		fs, _, _ := c.flags(streams{})
		var want []string
		fs.VisitAll(func(f *pflag.Flag) {
			want = append(want, "--"+f.Name)
			if f.Shorthand != "" {
				want = append(want, "-"+f.Shorthand)
			}
		})
		sort.Strings(want)
		if got := bashComplete(t, bash, script, dir, "bgrender "+c.name+" -"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: flags completed %q, want %q", c.name, got, want)
		}
		if f := fs.Lookup("output"); f != nil {
			if got := bashComplete(t, bash, script, dir, "bgrender "+c.name+" --output "); len(got) < 2 {
				t.Errorf("%s --output: completes %q; its usage %q lists no formats the completion understands", c.name, got, f.Usage)
			}
		}
	}
}

func TestCompletionBadShell(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "powershell"}, {"completion", "bash", "zsh"}} {
		r := runCLI(t, "", args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "bash, zsh or fish") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, the shells named", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestCompletionZshFish checks the other scripts' syntax with the shells
// themselves (zsh -n, fish -n), where they are installed; neither is needed
// to build or test bgrender, so they are not part of the test bed.
func TestCompletionZshFish(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			bin := needShell(t, shell, false)
			script := completionScript(t, shell)
			if out, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", shell, err, out)
			}
		})
	}
}
