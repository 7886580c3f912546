package gitops

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// Signer signs a commit: it returns the armored signature of the encoded
// commit (without signature), which goes into the commit's gpgsig header.
type Signer interface {
	Sign(message []byte) (string, error)
}

// LoadSigner reads a private key for commit signing: an OpenSSH private
// key (an SSH signature in the sshsig format, as `git -c gpg.format=ssh`
// makes) or an armored OpenPGP private key. passphrase decrypts an
// encrypted key.
func LoadSigner(path, passphrase string) (Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(data, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		return loadPGP(data, passphrase)
	}
	var key any
	if passphrase != "" {
		key, err = ssh.ParseRawPrivateKeyWithPassphrase(data, []byte(passphrase))
	} else {
		key, err = ssh.ParseRawPrivateKey(data)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errors.New("the key is encrypted: set BGRENDER_SIGN_KEY_PASSPHRASE")
		}
		return nil, fmt.Errorf("not an OpenSSH or OpenPGP private key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, err
	}
	return &sshSigner{signer: signer}, nil
}

// sshSigner makes SSH signatures in the sshsig format, namespace "git".
type sshSigner struct{ signer ssh.Signer }

func (s *sshSigner) Sign(message []byte) (string, error) {
	const namespace, hashAlg = "git", "sha512"
	h := sha512.Sum512(message)
	signed := ssh.Marshal(struct {
		Namespace, Reserved, HashAlg string
		Hash                         []byte
	}{namespace, "", hashAlg, h[:]})
	signed = append([]byte("SSHSIG"), signed...)
	var sig *ssh.Signature
	var err error
	if as, ok := s.signer.(ssh.AlgorithmSigner); ok && s.signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.signer.Sign(rand.Reader, signed)
	}
	if err != nil {
		return "", err
	}
	blob := ssh.Marshal(struct {
		Version                      uint32
		PublicKey                    []byte
		Namespace, Reserved, HashAlg string
		Signature                    []byte
	}{1, s.signer.PublicKey().Marshal(), namespace, "", hashAlg, ssh.Marshal(sig)})
	blob = append([]byte("SSHSIG"), blob...)
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		b.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	b.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return b.String(), nil
}

// pgpSigner makes detached, armored OpenPGP signatures.
type pgpSigner struct{ entity *openpgp.Entity }

func loadPGP(data []byte, passphrase string) (Signer, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("OpenPGP key: %w", err)
	}
	if len(ring) == 0 || ring[0].PrivateKey == nil {
		return nil, errors.New("OpenPGP key: no private key")
	}
	e := ring[0]
	if e.PrivateKey.Encrypted {
		if passphrase == "" {
			return nil, errors.New("the key is encrypted: set BGRENDER_SIGN_KEY_PASSPHRASE")
		}
		if err := e.DecryptPrivateKeys([]byte(passphrase)); err != nil {
			return nil, fmt.Errorf("OpenPGP key: %w", err)
		}
	}
	return &pgpSigner{entity: e}, nil
}

func (s *pgpSigner) Sign(message []byte) (string, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, bytes.NewReader(message), nil); err != nil {
		return "", err
	}
	return b.String(), nil
}
