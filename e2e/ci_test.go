package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

const githubWorkflow = "../examples/ci/github-actions.yaml"

// actionlint returns the actionlint that hack/install-tools.sh builds.
func actionlint(t *testing.T) string {
	t.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".tools", "bin", "actionlint")
	if _, err := os.Stat(bin); err != nil {
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip("actionlint is not in .tools/bin (make tools); skipped under -short")
		}
		t.Fatalf("actionlint is not in .tools/bin: run make tools (hack/install-tools.sh actionlint)")
	}
	return bin
}

// runActionlint lints one workflow file; it returns actionlint's report
// and whether it found nothing.
func runActionlint(t *testing.T, bin, path string) (string, bool) {
	t.Helper()
	cmd := exec.Command(bin, "-no-color", "-oneline", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return out.String(), false // 1: problems found
	} else if err != nil {
		t.Fatalf("actionlint %s: %v\n%s", path, err, out.String())
	}
	return out.String(), true
}

// TestGitHubWorkflowActionlint lints examples/ci/github-actions.yaml with
// actionlint (workflow syntax, expressions and their types, job outputs
// and needs, action inputs). It also lints copies with known mistakes, so
// that a pass means actionlint really judged the file.
func TestGitHubWorkflowActionlint(t *testing.T) {
	bin := actionlint(t)
	if out, ok := runActionlint(t, bin, githubWorkflow); !ok {
		t.Fatalf("actionlint on %s:\n%s", githubWorkflow, out)
	}
	data, err := os.ReadFile(githubWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ name, old, new, want string }{
		{"undefined job output", "needs.deploy.outputs.color", "needs.deploy.outputs.colour", "colour"},
		{"undefined input", "inputs.image }}", "inputs.img }}", "img"},
		{"unknown secret context", "secrets.GITOPS_TOKEN", "secret.GITOPS_TOKEN", "secret"},
	} {
		t.Run(m.name, func(t *testing.T) {
			if !bytes.Contains(data, []byte(m.old)) {
				t.Fatalf("the workflow no longer holds %q", m.old)
			}
			path := filepath.Join(t.TempDir(), "bgrender.yaml")
			if err := os.WriteFile(path, bytes.Replace(data, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			out, ok := runActionlint(t, bin, path)
			if ok || !strings.Contains(out, m.want) {
				t.Errorf("actionlint passed a workflow with %s (%q):\n%s", m.name, m.new, out)
			}
		})
	}
}

// TestCIExamplesKeepSecrets checks that no step of the CI examples prints
// a secret: the tokens reach bgrender only through the environment, and
// no line both names a secret and echoes or prints it to the log.
func TestCIExamplesKeepSecrets(t *testing.T) {
	for _, f := range []string{githubWorkflow, "../examples/ci/gitlab-ci.yml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			code, _, _ := strings.Cut(line, "#")
			for _, s := range []string{"GITOPS_TOKEN", "BGRENDER_GIT_TOKEN", "KUBECONFIG_DATA", "KUBECONFIG"} {
				if !strings.Contains(code, s) {
					continue
				}
				if strings.Contains(code, "echo") || strings.Contains(code, "set -x") || (strings.Contains(code, "printf") && !strings.Contains(code, "> \"$RUNNER_TEMP/kubeconfig\"")) {
					t.Errorf("%s:%d prints %s: %s", f, i+1, s, strings.TrimSpace(line))
				}
			}
		}
	}
}
