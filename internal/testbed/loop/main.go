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

// PeerNodes is the number of fake nodes of the peer cluster
// (RequirePeer): one is room for 110 pods.
const PeerNodes = 1

// The clusters of this test binary: the bed, started by the first
// Require, and the peer, by the first RequirePeer. Each has its own lock,
// so that the two start at once when two goroutines ask.
var shared struct {
	mu     sync.Mutex
	inMain bool
	cfg    Config
	bed    slot
	peer   slot
}

// slot is one shared cluster and the sticky errors of its start-ups: a
// part that failed to start fails every later test that needs it.
type slot struct {
	mu      sync.Mutex
	name    string // "bed" or "peer cluster", for logs
	peer    bool
	cluster *Cluster
	err     error // a failed start of the core
	fluxErr error // a failed start of Flux
	dpErr   error // a failed start of the data plane
	msErr   error // a failed start of metrics-server
	gwErr   error // a failed start of the Gateway
}

// Main is for TestMain: it runs the tests and then stops the bed (and
// the peer cluster) if one of them started it, and exits with the tests'
// status.
//
//	func TestMain(m *testing.M) { loop.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m, Config{})) }

// MainWith is Main with a Config for the bed the tests will share.
func MainWith(m *testing.M, cfg Config) { os.Exit(Run(m, cfg)) }

// Run is MainWith without the os.Exit: it returns the exit code. The
// clusters are stopped after the tests, and on SIGINT/SIGTERM. If the
// process dies otherwise (a test timeout, a panicking test), the kernel
// kills the child processes (Linux), and the next cluster's start-up
// removes their directories.
func Run(m *testing.M, cfg Config) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	shared.mu.Lock()
	shared.inMain, shared.cfg = true, cfg
	shared.bed.name = "bed"
	shared.peer.name, shared.peer.peer = "peer cluster", true
	shared.mu.Unlock()

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigc:
			fmt.Fprintf(os.Stderr, "loop: %v: stopping the clusters\n", sig)
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

// stopShared stops both clusters at once.
func stopShared() {
	var wg sync.WaitGroup
	for _, s := range []*slot{&shared.bed, &shared.peer} {
		wg.Go(s.stop)
	}
	wg.Wait()
}

func (s *slot) stop() {
	s.mu.Lock()
	c := s.cluster
	s.cluster = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	began := time.Now()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "loop: stopping the %s: %v\n", s.name, err)
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "loop: %s stopped in %s\n", s.name, time.Since(began).Round(time.Millisecond))
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
	cfg := config(tb)
	return shared.bed.require(tb, cfg, parts)
}

// RequirePeer returns the peer cluster of this test binary: a second
// cluster, as independent of the bed as another cluster of a fleet is —
// its own etcd, API server, controller manager, scheduler, kwok with
// PeerNodes node (tainted as the bed's are, unless the bed's Config says
// Untainted) and, with Flux, its own Flux watching it — started, with the
// parts asked for, as Require starts the bed, and stopped with it. Tests
// share it as they share the bed, or stop it early with StopPeer. The
// data plane is the bed's only (its network namespaces are named after
// the test process).
func RequirePeer(tb testing.TB, parts ...Part) *Cluster {
	tb.Helper()
	if hasPart(parts, DataPlane) || hasPart(parts, Gateway) {
		tb.Fatal("loop: the peer cluster has no data plane (one per test process: its network namespaces are named after the process)")
	}
	cfg := config(tb)
	cfg.Nodes = PeerNodes
	return shared.peer.require(tb, cfg, parts)
}

// StopPeer stops the peer cluster, if it runs, before the end of the
// test binary; a later RequirePeer starts a new one. A story that is the
// peer's only user stops it when it ends (t.Cleanup(loop.StopPeer)), so
// that the tests after it do not share the machine with an idle cluster.
func StopPeer() { shared.peer.stop() }

// config is the Config of the clusters, from Main.
func config(tb testing.TB) Config {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("loop: no bed: call loop.Main(m) from TestMain")
	}
	return shared.cfg
}

// require returns the slot's cluster, starting it with cfg and then the
// parts that do not run yet.
func (s *slot) require(tb testing.TB, cfg Config, parts []Part) *Cluster {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	flux := hasPart(parts, Flux)
	if s.cluster == nil {
		if s.err != nil {
			tb.Fatal(s.err)
		}
		bins, err := FindBinaries(flux)
		if err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*StartTimeout)
		defer cancel()
		c, err := StartWith(ctx, cfg, bins)
		if err != nil {
			s.err = s.wrap(err)
			tb.Fatal(s.err)
		}
		s.cluster = c
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: %s ready in %s (API server %s, fake nodes: %d)\n",
				s.name, c.StartupTime().Round(time.Millisecond), c.Host(), len(c.Nodes()))
		}
	}
	c := s.cluster
	if flux && !c.HasFlux() {
		if s.fluxErr != nil {
			tb.Fatal(s.fluxErr)
		}
		if _, err := FindBinaries(true); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := c.StartFlux(ctx); err != nil {
			s.fluxErr = s.wrap(err)
			tb.Fatal(s.fluxErr)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: Flux of the %s ready in %s\n", s.name, c.FluxStartupTime().Round(time.Millisecond))
		}
	}
	if (hasPart(parts, DataPlane) || hasPart(parts, Gateway)) && c.DataPlane() == nil {
		if s.dpErr != nil {
			tb.Fatal(s.dpErr)
		}
		if _, err := findDataPlane(); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := c.StartDataPlane(ctx); err != nil {
			s.dpErr = s.wrap(err)
			tb.Fatal(s.dpErr)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: data plane ready in %s\n", c.DataPlane().StartupTime().Round(time.Millisecond))
		}
	}
	if hasPart(parts, Gateway) && c.Traefik() == nil {
		if s.gwErr != nil {
			tb.Fatal(s.gwErr)
		}
		if _, _, err := findGateway(); err != nil {
			missing(tb, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := c.StartGateway(ctx); err != nil {
			s.gwErr = s.wrap(err)
			tb.Fatal(s.gwErr)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: Gateway (Traefik) ready in %s\n", c.Traefik().StartupTime().Round(time.Millisecond))
		}
	}
	if hasPart(parts, Metrics) && !c.HasMetrics() {
		if s.msErr != nil {
			tb.Fatal(s.msErr)
		}
		if c.bins.MetricsServer == "" {
			missing(tb, &MissingError{Missing: []string{"metrics-server (.tools/bin/metrics-server does not exist)"}})
		}
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		if err := c.StartMetrics(ctx); err != nil {
			s.msErr = s.wrap(err)
			tb.Fatal(s.msErr)
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "loop: metrics-server of the %s ready in %s\n", s.name, time.Since(began).Round(time.Millisecond))
		}
	}
	return c
}

// wrap names the peer cluster in its start-up errors (the bed's read as
// they always did): the components' names are the same in both.
func (s *slot) wrap(err error) error {
	if s.peer {
		return fmt.Errorf("the peer cluster: %w", err)
	}
	return err
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
