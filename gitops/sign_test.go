package gitops

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"golang.org/x/crypto/ssh"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
)

// signedUpdate pushes one signed commit and returns the bare repository.
func signedUpdate(t *testing.T, keyFile string) string {
	t.Helper()
	signer, err := LoadSigner(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "r", seed(t, 1))
	u := newUpdate(t, url, &setState{want: "green"})
	u.Signer = signer
	if _, err := u.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return srv.RepoDir("r")
}

// TestSSHSignature proves an SSH-signed commit carries a valid sshsig
// signature (checked in Go) and, where ssh-keygen is installed, shows as a
// good signature to git with gpg.format=ssh.
func TestSSHSignature(t *testing.T) {
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
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	sshPub, _ := ssh.NewPublicKey(pub)
	allowed := filepath.Join(dir, "allowed_signers")
	os.WriteFile(allowed, []byte("ci@example.com namespaces=\"git\" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))+"\n"), 0o644)

	bare := signedUpdate(t, keyFile)
	unsigned, sig := splitSignature(t, gittest.Git(t, bare, "cat-file", "commit", "main")+"\n")
	verifySSHSig(t, sshPub, unsigned, sig)
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Log("ssh-keygen not installed: git's own check not run")
		return
	}
	out := gittest.Git(t, bare, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "log", "-1", "--format=%G? %GS", "main")
	if out != "G ci@example.com" {
		t.Fatalf("signature status %q, want G (good)", out)
	}
}

// TestOpenPGPSignature proves an OpenPGP-signed commit carries a valid
// detached signature of the commit (checked with the OpenPGP library) and,
// where gpg is installed, passes `git verify-commit`.
func TestOpenPGPSignature(t *testing.T) {
	e, err := openpgp.NewEntity("CI", "", "ci@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	e.SerializePrivate(w, nil)
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.asc")
	os.WriteFile(keyFile, priv.Bytes(), 0o600)

	bare := signedUpdate(t, keyFile)

	unsigned, sig := splitSignature(t, gittest.Git(t, bare, "cat-file", "commit", "main")+"\n")
	ring := openpgp.EntityList{e}
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, strings.NewReader(unsigned), strings.NewReader(sig), nil); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}

	if _, err := exec.LookPath("gpg"); err != nil {
		t.Log("gpg not installed: git verify-commit not run")
		return
	}
	home := filepath.Join(dir, "gnupg")
	os.MkdirAll(home, 0o700)
	imp := exec.Command("gpg", "--batch", "--import")
	imp.Env = append(os.Environ(), "GNUPGHOME="+home)
	imp.Stdin = &pub
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	defer exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() //nolint:errcheck
	cmd := exec.Command("git", "-C", bare, "verify-commit", "main")
	cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Good signature") {
		t.Fatalf("git verify-commit: %v\n%s", err, out)
	}
}

// splitSignature splits a raw commit into the text that was signed (the
// commit without its gpgsig header) and the armored signature.
func splitSignature(t *testing.T, raw string) (string, string) {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	var unsigned, sig strings.Builder
	inSig := false
	for _, line := range strings.Split(head, "\n") {
		switch {
		case strings.HasPrefix(line, "gpgsig "):
			inSig = true
			sig.WriteString(strings.TrimPrefix(line, "gpgsig ") + "\n")
		case inSig && strings.HasPrefix(line, " "):
			sig.WriteString(line[1:] + "\n")
		default:
			inSig = false
			unsigned.WriteString(line + "\n")
		}
	}
	if sig.Len() == 0 {
		t.Fatalf("commit is not signed:\n%s", raw)
	}
	unsigned.WriteString("\n" + body)
	return unsigned.String(), sig.String()
}

// verifySSHSig checks an armored sshsig signature (namespace git) of
// message made by key, as ssh-keygen -Y verify does.
func verifySSHSig(t *testing.T, key ssh.PublicKey, message, armored string) {
	t.Helper()
	b64 := strings.TrimSpace(strings.NewReplacer("-----BEGIN SSH SIGNATURE-----", "", "-----END SSH SIGNATURE-----", "", "\n", "").Replace(armored))
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(blob, []byte("SSHSIG")) {
		t.Fatalf("not an SSH signature: %v", err)
	}
	var sig struct {
		Version                      uint32
		PublicKey                    []byte
		Namespace, Reserved, HashAlg string
		Signature                    []byte
	}
	if err := ssh.Unmarshal(blob[6:], &sig); err != nil {
		t.Fatal(err)
	}
	if sig.Version != 1 || sig.Namespace != "git" || sig.HashAlg != "sha512" || !bytes.Equal(sig.PublicKey, key.Marshal()) {
		t.Fatalf("signature fields: version %d namespace %q hash %q", sig.Version, sig.Namespace, sig.HashAlg)
	}
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		t.Fatal(err)
	}
	h := sha512.Sum512([]byte(message))
	signed := append([]byte("SSHSIG"), ssh.Marshal(struct {
		Namespace, Reserved, HashAlg string
		Hash                         []byte
	}{"git", "", "sha512", h[:]})...)
	if err := key.Verify(signed, &s); err != nil {
		t.Fatalf("SSH signature does not verify: %v", err)
	}
}
