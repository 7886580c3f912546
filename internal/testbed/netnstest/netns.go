package netnstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Namespace runs socket calls of the test process inside a named network
// namespace (/run/netns/NAME, as `ip netns add` makes it). A socket belongs
// to the namespace of the thread that created it, so Listen and Dial switch
// only the calling goroutine's thread, for the one system call, and switch it
// back; what the socket does afterwards (accept, read, write) needs no switch.
type Namespace struct {
	Name string
	fd   *os.File
}

// OpenNamespace opens the named network namespace. Close releases it (the
// namespace itself stays until `ip netns del`).
func OpenNamespace(name string) (*Namespace, error) {
	fd, err := os.Open(filepath.Join("/run/netns", name))
	if err != nil {
		return nil, fmt.Errorf("netnstest: %w", err)
	}
	return &Namespace{Name: name, fd: fd}, nil
}

// Close releases the handle.
func (n *Namespace) Close() error { return n.fd.Close() }

// Run calls f on a thread that is inside the namespace, then returns the
// thread to its own. f must not start goroutines that open sockets.
func (n *Namespace) Run(f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(n.fd.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netnstest: enter %s: %w", n.Name, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine rather than
		// run other goroutines in the wrong namespace.
		return fmt.Errorf("netnstest: leave %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen opens a listener inside the namespace.
func (n *Namespace) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Run(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil && ln != nil {
		ln.Close()
		ln = nil
	}
	return ln, err
}

// DialContext connects from inside the namespace with d (a zero Dialer
// when nil), e.g. with d.LocalAddr set to one of the namespace's
// addresses. addr must be a literal IP address and port: a name would be
// resolved on other goroutines, outside the namespace.
func (n *Namespace) DialContext(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	var c net.Conn
	err := n.Run(func() error {
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil && c != nil {
		c.Close()
		c = nil
	}
	return c, err
}
