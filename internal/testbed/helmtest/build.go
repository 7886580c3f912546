package helmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// built holds the commands built by this test binary, by name.
type built struct {
	once sync.Once
	path string
	err  error
}

var (
	bgrender      built
	chartRenderer built
)

// BuildBgrender builds ./cmd/bgrender of this repository with go build, once
// per test binary, and returns the absolute path of the program. It fails
// the test when the build fails.
//
// The program is <temp dir>/bgrender-helmtest-<uid>-<hash of repo
// root>/bgrender: one file per user and checkout, replaced atomically by each
// test binary's build (so parallel test binaries do not disturb each other),
// rather than a new temporary directory per test binary that nobody would
// remove.
func BuildBgrender(tb testing.TB) string {
	tb.Helper()
	bgrender.once.Do(func() { bgrender.path, bgrender.err = buildCommand("bgrender") })
	if bgrender.err != nil {
		tb.Fatal(bgrender.err)
	}
	return bgrender.path
}

// BuildChartRenderer builds ./cmd/bgrender-chart, which bgrender deploy
// --chart runs, as BuildBgrender builds bgrender.
func BuildChartRenderer(tb testing.TB) string {
	tb.Helper()
	chartRenderer.once.Do(func() { chartRenderer.path, chartRenderer.err = buildCommand("bgrender-chart") })
	if chartRenderer.err != nil {
		tb.Fatal(chartRenderer.err)
	}
	return chartRenderer.path
}

// buildCommand builds ./cmd/<name> into the checkout's directory of
// test programs.
func buildCommand(name string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("helmtest: building %s: %w", name, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		if gr := os.Getenv("GOROOT"); gr != "" && isExecutable(filepath.Join(gr, "bin", "go")) {
			goBin = filepath.Join(gr, "bin", "go")
		} else {
			return "", fmt.Errorf("helmtest: building %s: %w", name, err)
		}
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "bgrender-helmtest-"+strconv.Itoa(os.Getuid())+"-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("helmtest: building %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return "", fmt.Errorf("helmtest: building %s: %w", name, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // after a failure; a no-op after the rename

	cmd := exec.Command(goBin, "build", "-o", tmp, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("helmtest: go build ./cmd/%s: %w\n%s", name, err, strings.TrimSpace(string(out)))
	}
	out := filepath.Join(dir, name)
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("helmtest: building %s: %w", name, err)
	}
	return out, nil
}

// repoRoot is kubetest.RepoRoot made absolute and free of symbolic links, so
// that one checkout always maps to one build directory.
func repoRoot() (string, error) {
	root, err := kubetest.RepoRoot()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	return filepath.Abs(root)
}
