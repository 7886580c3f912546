package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/spec"
)

// TestDuplicateKeysInAppFolder: a key written twice in a file of the app
// folder in Git (a plain folder's Service, two manifests concatenated
// without ---, the gates file, bgrender.yaml) is refused by every command
// that reads it: exit
// 2, the file, the line and the first key's line, nothing on stdout,
// nothing pushed.
func TestDuplicateKeysInAppFolder(t *testing.T) {
	// status reads the folder before the cluster: a kubeconfig that names
	// an unreachable server proves it is never contacted.
	kc := kubetest.WriteKubeconfigFor(t, "https://127.0.0.1:1", "production", "")
	commands := [][]string{
		{"promote"},
		{"deploy", "--image", "myapp:v9"},
		{"rollback"},
		{"status", "my-application", "--kubeconfig", kc},
	}
	read := func(name string) string {
		data, err := os.ReadFile("../../testdata/gitops/plain/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	concatenated := read("deployment-blue.yaml") + read("deployment-green.yaml")
	seed, err := os.ReadFile(filepath.Join(examplesDir, "seed", "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	active := lineOf(string(seed), "  active: blue", 1)
	for _, tc := range []struct {
		name, layout string
		edit         func(t *testing.T, r *gitopsRepo)
		want         string
		commands     [][]string // all of commands when nil
	}{
		{"Service with metadata.name twice", "plain", func(t *testing.T, r *gitopsRepo) {
			r.handCommit(t, "service.yaml", "  namespace: production\n", "  namespace: production\n  name: application-preview\n")
		}, "service.yaml:7: metadata.name: duplicate key (first defined on line 5)", nil},
		{"two Deployments without --- between them", "plain", func(t *testing.T, r *gitopsRepo) {
			r.commitFile(t, "deployment-blue.yaml", concatenated)
		}, fmt.Sprintf("deployment-blue.yaml:%d: apiVersion: duplicate key (first defined on line %d); two documents without a --- line between them?",
			lineOf(concatenated, "apiVersion:", 2), lineOf(concatenated, "apiVersion:", 1)), nil},
		{"gates file", "plain", func(t *testing.T, r *gitopsRepo) {
			r.commitFile(t, spec.GatesFile, "rollout:\n  timeout: 2m\nhealth: {path: /health, path: /ready}\n")
		}, spec.GatesFile + ":3: health.path: duplicate key (first defined on line 3)", [][]string{commands[0], commands[3]}}, // the commands that read the gates
		{"bgrender.yaml", "managed", func(t *testing.T, r *gitopsRepo) {
			r.handCommit(t, "bgrender.yaml", "  active: blue\n", "  active: blue\n  active: green\n")
		}, fmt.Sprintf("bgrender.yaml:%d: spec.active: duplicate key (first defined on line %d)", active+1, active), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newGitopsRepo(t, tc.layout, 0)
			tc.edit(t, r)
			before, pushes := r.commits(t), r.srv.Pushes()
			run := tc.commands
			if run == nil {
				run = commands
			}
			for _, args := range run {
				res := r.run(t, args...)
				if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "duplicate key (first defined on line ") {
					t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", args[0], res.code, res.stdout, res.stderr, tc.want)
				}
				if strings.Contains(res.stderr, "goroutine ") || strings.Contains(res.stderr, "bgrender-app-") {
					t.Errorf("%s: a stack trace or the temporary folder:\n%s", args[0], res.stderr)
				}
			}
			if r.commits(t) != before || r.srv.Pushes() != pushes {
				t.Errorf("a refused command pushed")
			}
		})
	}
}

// TestDuplicateKeysInManagedKustomization: the kustomization.yaml that
// bgrender writes in a managed folder keeps what the user added to it; a
// key written twice there is refused at the promotion that would rewrite
// it, and nothing is pushed.
func TestDuplicateKeysInManagedKustomization(t *testing.T) {
	r := newGitopsRepo(t, "managed", 0)
	k := r.file(t, "kustomization.yaml") + "\ncommonLabels: {team: a}\ncommonLabels: {team: b}\n"
	r.commitFile(t, "kustomization.yaml", k)
	before := r.commits(t)
	res := r.run(t, "promote")
	want := fmt.Sprintf("kustomization.yaml:%d: commonLabels: duplicate key (first defined on line %d)", lineOf(k, "commonLabels", 2), lineOf(k, "commonLabels", 1))
	if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %q", res.code, res.stdout, res.stderr, want)
	}
	if r.commits(t) != before {
		t.Errorf("a refused promote pushed")
	}
}

// lineOf returns the line number of the nth line of text that starts
// with prefix.
func lineOf(text, prefix string, nth int) int {
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			if nth--; nth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// TestDuplicateKeysInLocalFiles: the files given on the command line
// (postrender --config, check -f with a gates file) refuse a key written
// twice with file and both lines, before anything else is read.
func TestDuplicateKeysInLocalFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kc := kubetest.WriteKubeconfigFor(t, "https://127.0.0.1:1", "production", "")
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"postrender --config", chartStream,
			[]string{"postrender", "--config", write("postrender.yaml", "apiVersion: bgrender.io/v1alpha1\nkind: PostRenderConfig\ncolorLabel: version\nquota: {name: a}\ncolorLabel: color\n")},
			"postrender.yaml:5: colorLabel: duplicate key (first defined on line 3)"},
		{"postrender --config, nested", chartStream,
			[]string{"postrender", "--config", write("nested.yaml", "networkPolicy:\n  mode: strict\n  podCIDRs: [10.244.0.0/16]\n  mode: standard\n")},
			"nested.yaml:4: networkPolicy.mode: duplicate key (first defined on line 2)"},
		{"check -f gates file", "",
			[]string{"check", "my-application", "-n", "production", "--kubeconfig", kc, "-f", write(spec.GatesFile, "rollout:\n  timeout: 2m\n  timeout: 5m\n")},
			spec.GatesFile + ":3: rollout.timeout: duplicate key (first defined on line 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, tc.stdin, tc.args...)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) || strings.Contains(res.stderr, "goroutine ") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
}
