package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves the repositories of a Server over SSH: it runs
// git-upload-pack and git-receive-pack for the exec requests of clients
// that authenticate with the one allowed public key.
type SSHServer struct {
	// Addr is host:port on loopback.
	Addr string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	root string
	cfg  *ssh.ServerConfig
	ln   net.Listener
	wg   sync.WaitGroup
}

// ServeSSH starts an SSH server for the repositories of s that admits the
// client key allowed, until the test ends.
func (s *Server) ServeSSH(t testing.TB, allowed ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(allowed.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("key not allowed")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &SSHServer{Addr: ln.Addr().String(), HostKey: hostSigner.PublicKey(), root: s.Root, cfg: cfg, ln: ln}
	srv.wg.Add(1)
	go srv.accept()
	t.Cleanup(func() { ln.Close(); srv.wg.Wait() })
	return srv
}

// URL is the ssh:// URL of the repository name.
func (s *SSHServer) URL(name string) string { return "ssh://git@" + s.Addr + "/" + name }

// KnownHostsLine is the known_hosts line that trusts this server.
func (s *SSHServer) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
}

func (s *SSHServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(conn)
		}()
	}
}

func (s *SSHServer) serve(conn net.Conn) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, s.cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions") //nolint:errcheck
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, chReqs)
	}
}

// session runs the git command of the first exec request.
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(req.Type == "env", nil) //nolint:errcheck
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			req.Reply(false, nil) //nolint:errcheck
			return
		}
		prog, arg, _ := strings.Cut(payload.Command, " ")
		if prog != "git-upload-pack" && prog != "git-receive-pack" {
			req.Reply(false, nil) //nolint:errcheck
			return
		}
		repo := filepath.Join(s.root, filepath.Clean("/"+strings.Trim(arg, "'\"")))
		req.Reply(true, nil) //nolint:errcheck
		cmd := exec.Command("git", strings.TrimPrefix(prog, "git-"), repo)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		// Not cmd.Stdin = ch: Wait would wait for the client to close its
		// side, which it does only after the exit status.
		go func() { io.Copy(stdin, ch); stdin.Close() }() //nolint:errcheck
		code := 0
		if err := cmd.Run(); err != nil {
			code = 1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		ch.SendRequest("exit-status", false, status) //nolint:errcheck
		return
	}
}
