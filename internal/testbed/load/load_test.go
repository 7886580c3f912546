package load_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/load"
)

// TestModes: against a loopback server, keep-alive clients reuse their
// connection and new-connection clients never do; every request is
// recorded with the pod and color the server named; Count bounds the run.
func TestModes(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(load.HeaderPod, "web-1")
		w.Header().Set(load.HeaderColor, "blue")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, mode := range []load.Mode{load.KeepAlive, load.NewConnection} {
		t.Run(mode.String(), func(t *testing.T) {
			conns.Store(0)
			run, err := load.Start(context.Background(), load.Config{URL: srv.URL + "/", Clients: 2, Mode: mode, Count: 40, Pause: time.Millisecond, Duration: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			recs := run.Wait()
			w := load.Summarize(recs, time.Time{}, time.Time{})
			t.Log(w)
			if w.Requests != 40 || w.Failed != 0 || w.Pods["web-1"] != 40 || w.First["blue"].IsZero() {
				t.Fatalf("window %+v", w)
			}
			reused := len(load.Split(recs, func(r load.Record) bool { return r.Reused }))
			switch mode {
			case load.KeepAlive:
				if n := conns.Load(); n != 2 || reused != 38 {
					t.Errorf("%d connections, %d requests on a reused one; want 2 and 38", n, reused)
				}
			case load.NewConnection:
				if n := conns.Load(); n != 40 || reused != 0 {
					t.Errorf("%d connections, %d requests on a reused one; want 40 and 0", n, reused)
				}
			}
		})
	}
}

// TestFailures: a closed port is "refused", a 503 is "5xx", an answer
// without the pod server's headers is "foreign", a slow one "timeout".
func TestFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(load.HeaderPod, "web-1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	foreign := httptest.NewServer(http.NotFoundHandler())
	defer foreign.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	for url, want := range map[string]load.Kind{closed: load.Refused, unavailable.URL: load.Status5xx, foreign.URL: load.Foreign, slow.URL: load.Timeout} {
		run, err := load.Start(context.Background(), load.Config{URL: url, Count: 2, Timeout: 100 * time.Millisecond, Duration: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w := load.Summarize(run.Wait(), time.Time{}, time.Time{})
		if w.Requests != 2 || w.Errors[want] != 2 {
			t.Errorf("%s: %v, want 2 of %q", url, w, want)
		}
	}
}

// TestHostAndHeader: every request carries Config.Host as its Host header
// and Config.Header's fields, as a Gateway's route matches them.
func TestHostAndHeader(t *testing.T) {
	var bad atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "api.example.com" || r.Header.Get("X-Bgrender-Color") != "green" {
			bad.Add(1)
		}
		w.Header().Set(load.HeaderPod, "web-1")
		w.Header().Set(load.HeaderColor, "green")
	}))
	defer srv.Close()
	run, err := load.Start(context.Background(), load.Config{URL: srv.URL + "/", Count: 10, Pause: time.Millisecond, Duration: 30 * time.Second,
		Host: "api.example.com", Header: http.Header{"X-Bgrender-Color": {"green"}}})
	if err != nil {
		t.Fatal(err)
	}
	if w := load.Summarize(run.Wait(), time.Time{}, time.Time{}); w.Requests != 10 || w.Failed != 0 || bad.Load() != 0 {
		t.Fatalf("%d requests without the Host or the header; window %+v", bad.Load(), w)
	}
}
