package kubetest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// SilentServer returns the URL of a server that accepts TCP connections
// and never answers: an API server (or proxy) that hangs.
func SilentServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return "http://" + l.Addr().String()
}

// WriteKubeconfigFor writes a kubeconfig whose one context "c" points at
// server, in namespace, with token as its user's bearer token (none when
// empty), and returns its path.
func WriteKubeconfigFor(t testing.TB, server, namespace, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	user, users := "", ""
	if token != "" {
		user, users = ", user: u", "users:\n- name: u\n  user: {token: "+token+"}\n"
	}
	data := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\"}\n" + users +
		"contexts:\n- name: c\n  context: {cluster: c" + user + ", namespace: " + namespace + "}\ncurrent-context: c\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
