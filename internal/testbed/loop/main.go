package loop

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The bed of this test binary, started by the first Require.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	cfg     Config
	bed     *Cluster
	err     error // a failed start of the core, sticky
	fluxErr error // a failed start of Flux, sticky
	dpErr   error // a failed start of the data plane, sticky
	msErr   error // a failed start of metrics-server, sticky
	gwErr   error // a failed start of the Gateway, sticky
}

// Main is for TestMain: it runs the tests and then stops the bed if one of
// them started it, and exits with the tests' status.
//
//	func TestMain(m *testing.M) { loop.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m, Config{})) }

// MainWith is Main with a Config for the bed the tests will share.
func MainWith(m *testing.M, cfg Config) { os.Exit(Run(m, cfg)) }

// Run is MainWith without the os.Exit: it returns the exit code. The bed
// is stopped after the tests, and on SIGINT/SIGTERM. If the process dies
// otherwise (a test timeout, a panicking test), the kernel kills the child
// processes (Linux), and the next bed's start-up removes their directory.
func Run(m *testing.M, cfg Config) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	shared.mu.Lock()
	shared.inMain, shared.cfg = true, cfg
	shared.mu.Unlock()

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigc:
			fmt.Fprintf(os.Stderr, "loop: %v: stopping the bed\n", sig)
			stopShared()
			os.Exit(2)
		case <-done:
		}
	}()
	defer func() {
		signal.Stop(sigc)
		close(done)
		stopShared()
	}()
	return m.Run()
}

func stopShared() {
	shared.mu.Lock()
	bed := shared.bed
	shared.bed = nil
	shared.mu.Unlock()
	if bed == nil {
		return
	}
	began := time.Now()
	if err := bed.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "loop: stopping: %v\n", err)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "loop: bed stopped in %s\n", time.Since(began).Round(time.Millisecond))
	}
}

// Require returns the bed of this test binary, with the parts asked for,
// starting what does not run yet: the core at the first call, Flux at the
// first call that asks for it. Tests share the bed (use a namespace per
// test: NewNamespace). When a binary the bed needs is missing, Require
// skips the test under go test -short and fails it otherwise (so CI fails);
// a bed that fails to start fails the test, and every later one that needs
// the part that failed.
func Require(tb testing.TB, parts ...Part) *Cluster {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("loop: no bed: call loop.Main(m) from TestMain")
	}
	flux := hasPart(parts, Flux)
	if shared.bed == nil {
		if shared.err != nil {
			tb.Fatal(shared.err)
		}
		bins, err := FindBinaries(flux)
		if err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*StartTimeout)
		defer cancel()
		bed, err := StartWith(ctx, shared.cfg, bins)
		if err != nil {
			shared.err = err
			tb.Fatal(err)
		}
		shared.bed = bed
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: bed ready in %s (API server %s, %d nodes)\n",
				bed.StartupTime().Round(time.Millisecond), bed.Host(), len(bed.Nodes()))
		}
	}
	bed := shared.bed
	if flux && !bed.HasFlux() {
		if shared.fluxErr != nil {
			tb.Fatal(shared.fluxErr)
		}
		if _, err := FindBinaries(true); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := bed.StartFlux(ctx); err != nil {
			shared.fluxErr = err
			tb.Fatal(err)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: Flux ready in %s\n", bed.FluxStartupTime().Round(time.Millisecond))
		}
	}
	if (hasPart(parts, DataPlane) || hasPart(parts, Gateway)) && bed.DataPlane() == nil {
		if shared.dpErr != nil {
			tb.Fatal(shared.dpErr)
		}
		if _, err := findDataPlane(); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := bed.StartDataPlane(ctx); err != nil {
			shared.dpErr = err
			tb.Fatal(err)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: data plane ready in %s\n", bed.DataPlane().StartupTime().Round(time.Millisecond))
		}
	}
	if hasPart(parts, Gateway) && bed.Traefik() == nil {
		if shared.gwErr != nil {
			tb.Fatal(shared.gwErr)
		}
		if _, _, err := findGateway(); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := bed.StartGateway(ctx); err != nil {
			shared.gwErr = err
			tb.Fatal(err)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: Gateway (Traefik) ready in %s\n", bed.Traefik().StartupTime().Round(time.Millisecond))
		}
	}
	if hasPart(parts, Metrics) && !bed.HasMetrics() {
		if shared.msErr != nil {
			tb.Fatal(shared.msErr)
		}
		if bed.bins.MetricsServer == "" {
			missing(tb, &MissingError{Missing: []string{"metrics-server (.tools/bin/metrics-server does not exist)"}})
		}
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := bed.StartMetrics(ctx); err != nil {
			shared.msErr = err
			tb.Fatal(err)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: metrics-server ready in %s\n", time.Since(began).Round(time.Millisecond))
		}
	}
	return bed
}

// missing skips (under -short) or fails tb for missing binaries.
func missing(tb testing.TB, err error) {
	tb.Helper()
	var me *MissingError
	if testing.Short() && os.Getenv("CI") != "true" && errors.As(err, &me) {
		tb.Skip(err.Error() + " (skipped under -short)")
	}
	tb.Fatal(err) // and always when CI=true, so that CI never silently skips
}

// NewNamespace creates a namespace for one test (see
// kubetest.Server.NewNamespace: base, then base-2, ... under -count) and
// waits until the controller manager has given it its default
// ServiceAccount, without which no pod can be created in it.
func (c *Cluster) NewNamespace(tb testing.TB, ctx context.Context, base string, labels map[string]string) string {
	tb.Helper()
	ns := c.Server.NewNamespace(tb, ctx, base, labels)
	if err := c.waitServiceAccount(ctx, ns); err != nil {
		tb.Fatal(err)
	}
	return ns
}
