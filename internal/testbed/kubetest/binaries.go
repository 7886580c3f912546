package kubetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment variables that override where the binaries are found.
const (
	EnvAPIServerBin = "KUBE_APISERVER_BIN"
	EnvEtcdBin      = "ETCD_BIN"
)

// InstallHint tells a person how to provide missing binaries.
const InstallHint = "run `make tools` (or hack/install-tools.sh) from the repository root, " +
	"or point " + EnvAPIServerBin + " and " + EnvEtcdBin + " at existing binaries"

// Binaries holds the paths of the programs a Server runs.
type Binaries struct {
	APIServer string // kube-apiserver
	Etcd      string // etcd
}

// MissingBinariesError reports which binaries could not be found and where
// they were looked for.
type MissingBinariesError struct {
	// Missing holds one entry per missing binary: its name and the places
	// searched.
	Missing []string
}

func (e *MissingBinariesError) Error() string {
	return "kubetest: missing " + strings.Join(e.Missing, "; missing ") + "; " + InstallHint
}

// FindBinaries locates kube-apiserver and etcd: KUBE_APISERVER_BIN, else
// <repo root>/.tools/bin/kube-apiserver, where the repo root is the nearest
// directory above the working directory that holds a go.mod; ETCD_BIN, else
// <repo root>/.tools/bin/etcd (etcd 3.6, built by hack/install-tools.sh),
// else etcd on PATH, else /usr/bin/etcd. An etcd older than 3.5.13 (Debian's
// 3.4) lacks the watch progress notifications kube-apiserver's WatchList
// needs; Start then turns that feature off (see etcdNeedsWatchListOff). When
// one is missing, the error is a *MissingBinariesError naming every missing
// binary.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var missing []string

	if p := os.Getenv(EnvAPIServerBin); p != "" {
		if isExecutable(p) {
			b.APIServer = p
		} else {
			missing = append(missing, fmt.Sprintf("kube-apiserver (%s=%s is not an executable file)", EnvAPIServerBin, p))
		}
	} else {
		root, err := RepoRoot()
		if err != nil {
			missing = append(missing, fmt.Sprintf("kube-apiserver (%s is unset and %v)", EnvAPIServerBin, err))
		} else if p := filepath.Join(root, ".tools", "bin", "kube-apiserver"); isExecutable(p) {
			b.APIServer = p
		} else {
			missing = append(missing, fmt.Sprintf("kube-apiserver (%s is unset and %s does not exist)", EnvAPIServerBin, p))
		}
	}

	if p := os.Getenv(EnvEtcdBin); p != "" {
		if isExecutable(p) {
			b.Etcd = p
		} else {
			missing = append(missing, fmt.Sprintf("etcd (%s=%s is not an executable file)", EnvEtcdBin, p))
		}
	} else if root, err := RepoRoot(); err == nil && isExecutable(filepath.Join(root, ".tools", "bin", "etcd")) {
		b.Etcd = filepath.Join(root, ".tools", "bin", "etcd")
	} else if p, err := exec.LookPath("etcd"); err == nil {
		b.Etcd = p
	} else if isExecutable("/usr/bin/etcd") {
		b.Etcd = "/usr/bin/etcd"
	} else {
		missing = append(missing, fmt.Sprintf("etcd (%s is unset, no .tools/bin/etcd, no etcd on PATH, no /usr/bin/etcd)", EnvEtcdBin))
	}

	if len(missing) > 0 {
		return b, &MissingBinariesError{Missing: missing}
	}
	return b, nil
}

// RepoRoot returns the nearest directory at or above the working directory
// that contains a go.mod file.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// etcdNeedsWatchListOff reports whether kube-apiserver must run with
// --feature-gates=WatchList=false in front of the etcd at bin: when etcd
// is older than 3.4.31 (3.4 series) or 3.5.13, or its version cannot be
// read. Without watch progress notifications, WatchList makes every
// client-go informer (controllers, kwok, Flux) re-list in a loop, and a
// Deployment takes tens of seconds to roll out.
func etcdNeedsWatchListOff(bin string) bool {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return true
	}
	major, minor, patch, ok := etcdVersion(string(out))
	if !ok {
		return true
	}
	switch {
	case major != 3:
		return major < 3
	case minor >= 6:
		return false
	case minor == 5:
		return patch < 13
	case minor == 4:
		return patch < 31
	default:
		return true
	}
}

// etcdVersion parses the "etcd Version: 3.6.16" line of etcd --version.
func etcdVersion(out string) (major, minor, patch int, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		v, found := strings.CutPrefix(strings.TrimSpace(line), "etcd Version:")
		if !found {
			continue
		}
		var n int
		n, err := fmt.Sscanf(strings.TrimSpace(v), "%d.%d.%d", &major, &minor, &patch)
		return major, minor, patch, err == nil && n == 3
	}
	return 0, 0, 0, false
}
