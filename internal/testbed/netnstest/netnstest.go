// Package netnstest serves an HTTP handler of the test from a network
// namespace that the test creates, at a private non-loopback address that
// this host reaches through a veth pair.
//
// The API server's service proxy refuses loopback endpoints (and Endpoints
// and EndpointSlices may not hold loopback addresses), so a test that
// needs the API server to reach a pod-like HTTP server puts the server
// here: the listening socket is created inside the namespace, while the
// handler runs in the test process, where the test sees every request.
//
// It needs root and the ip command (iproute2). Each server gets a netns
// named bgrtest-PID-N and a /30 out of 10.211.0.0/16 (host side .1, the
// namespace .2 of its block); Close deletes the namespace, which deletes
// the veth pair with it. Namespaces left by killed test processes are
// deleted by the next Start.
package netnstest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const prefix = "bgrtest-"

// Server is an HTTP server listening inside its own network namespace.
type Server struct {
	// IP is the server's address inside the namespace, reachable from the
	// host; Port its TCP port; URL is http://IP:Port.
	IP   string
	Port int
	URL  string

	netns string
	http  *http.Server
	once  sync.Once
}

var seq atomic.Int32

// Available reports why servers cannot be started here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netnstest: needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("netnstest: needs the ip command (Debian package iproute2)")
	}
	return nil
}

// Start serves h on port inside a new network namespace and registers its
// cleanup with t. Without root or ip it skips under -short and fails
// otherwise.
func Start(t testing.TB, port int, h http.Handler) *Server {
	t.Helper()
	if err := Available(); err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	s, err := start(port, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func start(port int, h http.Handler) (_ *Server, err error) {
	removeStale()
	n := int(seq.Add(1))
	pid := os.Getpid()
	s := &Server{netns: fmt.Sprintf("%s%d-%d", prefix, pid, n), Port: port}
	tag := strconv.FormatInt(int64(pid), 36) + "x" + strconv.Itoa(n)
	hostLink, nsLink := "bgrh"+tag, "bgrn"+tag
	if err := ip("netns", "add", s.netns); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = ip("netns", "del", s.netns)
		}
	}()
	if err := ip("link", "add", hostLink, "type", "veth", "peer", "name", nsLink); err != nil {
		return nil, err
	}
	if err := ip("link", "set", nsLink, "netns", s.netns); err != nil {
		_ = ip("link", "del", hostLink)
		return nil, err
	}
	// Find a free /30: try blocks from one derived from the pid.
	var hostIP string
	var addErr error
	for i := 0; ; i++ {
		if i == 64 {
			return nil, fmt.Errorf("netnstest: no free /30 in 10.211.0.0/16: %w", addErr)
		}
		block := (pid*16 + n + i*131) % 16384
		a, b := block/64, (block%64)*4
		hostIP, s.IP = fmt.Sprintf("10.211.%d.%d", a, b+1), fmt.Sprintf("10.211.%d.%d", a, b+2)
		if addErr = ip("addr", "add", hostIP+"/30", "dev", hostLink); addErr == nil {
			break
		}
	}
	for _, args := range [][]string{
		{"link", "set", hostLink, "up"},
		{"-n", s.netns, "addr", "add", s.IP + "/30", "dev", nsLink},
		{"-n", s.netns, "link", "set", nsLink, "up"},
		{"-n", s.netns, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			return nil, err
		}
	}
	ln, err := listenIn(s.netns, net.JoinHostPort(s.IP, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// listenIn opens a TCP listener inside the named network namespace.
func listenIn(netns, addr string) (net.Listener, error) {
	ns, err := OpenNamespace(netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return ns.Listen("tcp", addr)
}

// Namespace is the name of the server's network namespace.
func (s *Server) Namespace() string { return s.netns }

// Close stops the server and deletes the namespace and its veth pair.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.http != nil {
			_ = s.http.Close()
		}
		err = ip("netns", "del", s.netns)
	})
	return err
}

// removeStale deletes namespaces left by test processes that are gone.
func removeStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = ip("netns", "del", name)
		}
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
