package kubetest

import (
	"os/exec"
	"testing"
)

func TestEtcdVersion(t *testing.T) {
	for _, tc := range []struct {
		out                 string
		major, minor, patch int
		ok                  bool
	}{
		{"etcd Version: 3.6.16\nGit SHA: GitNotFound\nGo Version: go1.26.8\n", 3, 6, 16, true},
		{"etcd Version: 3.4.23\nGit SHA: Not provided (use ./build instead of go build)\n", 3, 4, 23, true},
		{"something else\n", 0, 0, 0, false},
	} {
		major, minor, patch, ok := etcdVersion(tc.out)
		if major != tc.major || minor != tc.minor || patch != tc.patch || ok != tc.ok {
			t.Errorf("etcdVersion(%q) = %d.%d.%d %v, want %d.%d.%d %v", tc.out, major, minor, patch, ok, tc.major, tc.minor, tc.patch, tc.ok)
		}
	}
}

// TestEtcdNeedsWatchListOff runs the etcd binaries that are present: the
// one hack/install-tools.sh builds (3.6) supports WatchList, Debian's 3.4
// does not.
func TestEtcdNeedsWatchListOff(t *testing.T) {
	tried := false
	if root, err := RepoRoot(); err == nil {
		if p := root + "/.tools/bin/etcd"; isExecutable(p) {
			tried = true
			if etcdNeedsWatchListOff(p) {
				t.Errorf("%s: WatchList turned off, want on (etcd 3.6)", p)
			}
		}
	}
	if p := "/usr/bin/etcd"; isExecutable(p) {
		tried = true
		major, minor, _, ok := etcdVersion(runVersion(t, p))
		want := !ok || major < 3 || (major == 3 && minor < 5)
		if got := etcdNeedsWatchListOff(p); want && !got {
			t.Errorf("%s (%d.%d): WatchList left on, want off", p, major, minor)
		}
	}
	if !tried {
		t.Skip("no etcd binary to run")
	}
}

func runVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
