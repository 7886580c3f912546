package kubetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// current is the server started by Main/Run for this test binary.
var current atomic.Pointer[Server]

// Current returns the server started by Main or Run, or nil when none runs
// (binaries missing under -short, or Main not used).
func Current() *Server { return current.Load() }

// Main is for TestMain: it starts a server, calls setup (if not nil) with it,
// runs the tests, stops the server and exits with the tests' status.
//
//	func TestMain(m *testing.M) { kubetest.Main(m, nil) }
//
// See Run for what happens when the binaries are missing.
func Main(m *testing.M, setup func(*Server)) {
	os.Exit(Run(m, setup))
}

// Run is Main without the os.Exit: it returns the exit code.
//
// When kube-apiserver or etcd is missing, under go test -short the tests run
// without a server (Require skips them, setup is not called); otherwise,
// CI included, Run prints what is missing and how to install it and returns 1
// without running any test. A server that fails to start is always an error.
//
// The server is stopped after the tests, also when setup or m.Run panics on
// the main goroutine and on SIGINT/SIGTERM. If the process dies otherwise (a
// test timeout, a panicking test), the kernel kills both child processes
// (Linux), but their temporary directory stays behind.
func Run(m *testing.M, setup func(*Server)) (code int) {
	if !flag.Parsed() {
		flag.Parse()
	}

	bins, err := FindBinaries()
	if err != nil {
		if testing.Short() {
			fmt.Fprintf(os.Stderr, "%v\nkubetest: -short: tests that need the API server are skipped\n", err)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "%v\n", err)
		fmt.Fprintln(os.Stderr, "kubetest: these tests need a real kube-apiserver and etcd (use go test -short to skip them)")
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout+10*time.Second)
	began := time.Now()
	srv, err := StartWith(ctx, bins)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "kubetest: API server ready at %s in %s\n", srv.Host(), time.Since(began).Round(time.Millisecond))
	}
	current.Store(srv)

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan struct{})
	go func() {
		select {
		case sig := <-sigc:
			fmt.Fprintf(os.Stderr, "kubetest: %v: stopping the API server\n", sig)
			_ = srv.Stop()
			os.Exit(2)
		case <-stopped:
		}
	}()
	defer func() {
		signal.Stop(sigc)
		close(stopped)
		current.Store(nil)
		began := time.Now()
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: stopping: %v\n", err)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "kubetest: API server stopped in %s\n", time.Since(began).Round(time.Millisecond))
		}
	}()

	if setup != nil {
		setup(srv)
	}
	return m.Run()
}

// errNoServer explains why Require found no server.
var errNoServer = errors.New("kubetest: no API server is running: call kubetest.Main(m, ...) from TestMain")

// Require returns the server started by Main. Without one it skips the test
// under go test -short and fails it otherwise.
func Require(tb testing.TB) *Server {
	tb.Helper()
	if s := Current(); s != nil {
		return s
	}
	if testing.Short() {
		tb.Skip("kubetest: no kube-apiserver/etcd (skipped under -short); " + InstallHint)
	}
	tb.Fatal(errNoServer)
	return nil
}
