package gitops

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// TestSSHWithKnownHosts pushes over a real SSH server with a key file:
// it works when known_hosts trusts the server, and is refused when the
// server's host key is not the one known_hosts holds.
func TestSSHWithKnownHosts(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	clientKey, _ := ssh.NewPublicKey(pub)

	srv := gittest.NewServer(t)
	srv.CreateRepo(t, "r", seed(t, 5))
	sshSrv := srv.ServeSSH(t, clientKey)
	other := srv.ServeSSH(t, clientKey) // another host key

	trusted := filepath.Join(dir, "known_hosts")
	os.WriteFile(trusted, []byte(sshSrv.KnownHostsLine()+"\n"), 0o644)
	wrong := filepath.Join(dir, "known_hosts_wrong")
	// The address of the server with the host key of the other one.
	line := strings.Replace(other.KnownHostsLine(), other.Addr[strings.LastIndex(other.Addr, ":"):], sshSrv.Addr[strings.LastIndex(sshSrv.Addr, ":"):], 1)
	os.WriteFile(wrong, []byte(line+"\n"), 0o644)

	run := func(knownHosts, want string, insecure bool) error {
		repo, err := OpenRepo(sshSrv.URL("r"), RepoOptions{Getenv: env(nil), SSHKey: keyFile, KnownHosts: []string{knownHosts}, InsecureIgnoreHostKey: insecure})
		if err != nil {
			return err
		}
		_, err = (&Update{Repo: repo, Path: "apps/web", Editor: &setState{want: want}}).Run(context.Background())
		return err
	}
	err = run(wrong, "green", false)
	t.Logf("wrong host key: %v", err)
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("a wrong host key was accepted: %v", err)
	}
	if n := srv.CommitCount(t, "r", "main"); n != 1 {
		t.Fatalf("commits after a refused host = %d", n)
	}
	if err := run(trusted, "green", false); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, srv.RepoDir("r"), "show", "main:apps/web/state.txt"); got != "green" {
		t.Fatalf("state.txt = %q", got)
	}
	// Only when the user turns verification off does a wrong host key pass.
	if err := run(wrong, "blue", true); err != nil {
		t.Fatalf("--insecure-ignore-host-key: %v", err)
	}
	if got := gittest.Git(t, srv.RepoDir("r"), "show", "main:apps/web/state.txt"); got != "blue" {
		t.Fatalf("state.txt = %q", got)
	}
}
