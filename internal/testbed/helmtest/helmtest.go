package helmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// Environment variables that override where the Helm binaries are found.
const (
	EnvHelm3Bin = "HELM3_BIN"
	EnvHelm4Bin = "HELM4_BIN"
)

// Versions are the Helm versions hack/install-tools.sh builds, by major
// version.
var Versions = map[int]string{3: "v3.22.0", 4: "v4.3.1"}

// InstallHint tells a person how to provide a missing Helm binary.
const InstallHint = "run `make tools` (or hack/install-tools.sh helm3 helm4) from the repository root, " +
	"or point " + EnvHelm3Bin + " / " + EnvHelm4Bin + " at existing binaries"

// MissingBinaryError reports a Helm binary that could not be found.
type MissingBinaryError struct {
	Major  int    // 3 or 4
	Reason string // where it was looked for and why that failed
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("helmtest: missing helm%d (%s); %s", e.Major, e.Reason, InstallHint)
}

func envVar(major int) (string, error) {
	switch major {
	case 3:
		return EnvHelm3Bin, nil
	case 4:
		return EnvHelm4Bin, nil
	}
	return "", fmt.Errorf("helmtest: unsupported Helm major version %d (want 3 or 4)", major)
}

// Find returns the path of the Helm binary of the given major version (3 or
// 4): $HELM3_BIN or $HELM4_BIN when set, else <repo root>/.tools/helm3/helm
// or .tools/helm4/helm, where the repo root is the nearest directory above
// the working directory holding a go.mod. A binary that cannot be found is
// reported as a *MissingBinaryError.
func Find(major int) (string, error) {
	env, err := envVar(major)
	if err != nil {
		return "", err
	}
	if p := os.Getenv(env); p != "" {
		if !isExecutable(p) {
			return "", &MissingBinaryError{Major: major, Reason: fmt.Sprintf("%s=%s is not an executable file", env, p)}
		}
		return filepath.Abs(p)
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		return "", &MissingBinaryError{Major: major, Reason: fmt.Sprintf("%s is unset and %v", env, err)}
	}
	p := filepath.Join(root, ".tools", "helm"+strconv.Itoa(major), "helm")
	if !isExecutable(p) {
		return "", &MissingBinaryError{Major: major, Reason: fmt.Sprintf("%s is unset and %s does not exist", env, p)}
	}
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// inCI reports whether CI is set to a true value (CI=true, as CI systems set
// it).
func inCI() bool {
	ok, _ := strconv.ParseBool(os.Getenv("CI"))
	return ok
}

// Require returns a Helm of the given major version for the test, with its
// own home (see New). When the binary is missing it skips the test under go
// test -short and fails it otherwise; when CI is true it fails it even under
// -short.
func Require(tb testing.TB, major int) *Helm {
	tb.Helper()
	bin, err := Find(major)
	if err != nil {
		var missing *MissingBinaryError
		if errors.As(err, &missing) && testing.Short() && !inCI() {
			tb.Skipf("%v (skipped under -short)", err)
		}
		tb.Fatal(err)
	}
	return New(tb, bin, major)
}

// Helm runs one Helm binary in an isolated environment.
type Helm struct {
	// Bin is the absolute path of the helm binary.
	Bin string
	// Major is Helm's major version, 3 or 4.
	Major int
	// Home is the temporary directory holding Helm's cache, config, data and
	// plugins directories.
	Home string
	// Env holds KEY=VALUE pairs set for every run, on top of the test's
	// environment without its HELM_* and KUBECONFIG variables. Later entries
	// win.
	Env []string
}

// New returns a Helm for bin whose home is a new tb.TempDir():
// HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME are its cache, config
// and data directories, HELM_PLUGINS is data/plugins (see PluginsDir), and
// KUBECONFIG names a file in it that does not exist.
func New(tb testing.TB, bin string, major int) *Helm {
	tb.Helper()
	home := tb.TempDir()
	h := &Helm{Bin: bin, Major: major, Home: home}
	for _, d := range []string{filepath.Join(home, "cache"), filepath.Join(home, "config"), h.PluginsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	h.Env = []string{
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_PLUGINS=" + h.PluginsDir(),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
	}
	return h
}

// PluginsDir returns the directory HELM_PLUGINS points at: the plugins
// directory of HELM_DATA_HOME, Helm's default. It has to be that one, because
// `helm plugin install` of a local directory (or an http URL) puts the plugin
// into $HELM_DATA_HOME/plugins whatever HELM_PLUGINS says, in Helm 3 and
// Helm 4.3.1 alike (helm/helm#32646), while every other command reads
// HELM_PLUGINS.
func (h *Helm) PluginsDir() string { return filepath.Join(h.Home, "data", "plugins") }

// WithKubeconfig returns a copy of h whose runs use the kubeconfig file at
// path (for example one written by kubetest's Server.WriteKubeconfig). The
// copy shares h's home, so plugins installed through either are seen by
// both.
func (h *Helm) WithKubeconfig(path string) *Helm {
	c := *h
	c.Env = append(append([]string(nil), h.Env...), "KUBECONFIG="+path)
	return &c
}

// environ returns the environment of a run: the test's environment without
// HELM_* and KUBECONFIG, then h.Env.
func (h *Helm) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HELM_") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, h.Env...)
}

// Run runs helm with args and returns its standard output and standard
// error. When helm fails, err says how, includes the command line and
// standard error, and wraps the *exec.ExitError (or the error that kept helm
// from starting).
func (h *Helm) Run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, h.Bin, args...)
	cmd.Env = h.environ()
	cmd.WaitDelay = 5 * time.Second
	var outb, errb bytes.Buffer
	cmd.Stdout = &outb
	cmd.Stderr = &errb
	err = cmd.Run()
	stdout, stderr = outb.String(), errb.String()
	if err != nil {
		msg := strings.TrimSpace(stderr)
		if msg == "" {
			msg = "(empty)"
		}
		err = fmt.Errorf("helm%d %s: %w\nstderr:\n%s", h.Major, strings.Join(args, " "), err, msg)
	}
	return stdout, stderr, err
}

// Template runs `helm template chartDir args...`: the release is named
// "release-name" unless args set --name-template (or --generate-name).
func (h *Helm) Template(ctx context.Context, chartDir string, args ...string) (stdout, stderr string, err error) {
	return h.Run(ctx, append([]string{"template", chartDir}, args...)...)
}
