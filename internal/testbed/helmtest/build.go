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

var bgrender struct {
	once sync.Once
	path string
	err  error
}

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
	bgrender.once.Do(func() { bgrender.path, bgrender.err = buildBgrender() })
	if bgrender.err != nil {
		tb.Fatal(bgrender.err)
	}
	return bgrender.path
}

func buildBgrender() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("helmtest: building bgrender: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		if gr := os.Getenv("GOROOT"); gr != "" && isExecutable(filepath.Join(gr, "bin", "go")) {
			goBin = filepath.Join(gr, "bin", "go")
		} else {
			return "", fmt.Errorf("helmtest: building bgrender: %w", err)
		}
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "bgrender-helmtest-"+strconv.Itoa(os.Getuid())+"-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("helmtest: building bgrender: %w", err)
	}
	f, err := os.CreateTemp(dir, ".bgrender-*")
	if err != nil {
		return "", fmt.Errorf("helmtest: building bgrender: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // after a failure; a no-op after the rename

	cmd := exec.Command(goBin, "build", "-o", tmp, "./cmd/bgrender")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("helmtest: go build ./cmd/bgrender: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	out := filepath.Join(dir, "bgrender")
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("helmtest: building bgrender: %w", err)
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
