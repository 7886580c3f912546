package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/notify"
)

// hookReceiver is a real webhook receiver: it records the events posted
// to it, by path.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []hookEvent
}

type hookEvent struct {
	path string
	ev   notify.Event
	raw  string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ev notify.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, hookEvent{r.URL.Path, ev, string(raw)})
		h.mu.Unlock()
		w.Write([]byte("ok")) //nolint:errcheck
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got(path string) []notify.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []notify.Event
	for _, e := range h.events {
		if e.path == path {
			out = append(out, e.ev)
		}
	}
	return out
}

// TestNotify runs deploy, shift and promote with --notify against real
// HTTP receivers: a working one (named by the flag and by
// $BGRENDER_NOTIFY) gets one event per transition, in order, with the
// commit, colors and weight; one that answers 500 and one that never
// answers cost a warning each, never the release, and a bounded time;
// no warning shows a webhook's secret path and no event the Git token.
func TestNotify(t *testing.T) {
	ok := newHookReceiver(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(stop)

	r := newGitopsRepo(t, "plain-route", 0)
	t.Setenv("BGRENDER_NOTIFY", ok.URL+"/from-env")
	began := time.Now()
	res := r.run(t, "deploy", "--image", "myapp:v2", "--notify", ok.URL+"/flag", "--notify", failing.URL+"/services/T0/B0/s3cr3t", "--notify", hanging.URL+"/hook-s3cr3t")
	took := time.Since(began)
	expectRun(t, "deploy with failing receivers", res, 0, "deploy application-service: run myapp:v2 on green; committed",
		"bgrender deploy: warning: notify "+failing.URL+"/…: the deploy event was not delivered: 3 attempts; last: HTTP 500",
		"bgrender deploy: warning: notify "+hanging.URL+"/…: the deploy event was not delivered: 3 attempts; last: no answer within 5s")
	if strings.Contains(res.stderr, "s3cr3t") {
		t.Errorf("a webhook's secret path was printed:\n%s", res.stderr)
	}
	// Three attempts of 5s at most for the hanging one, 0.5s and 1s between.
	if took > 40*time.Second {
		t.Errorf("deploy took %s with a hanging receiver", took)
	}

	expectRun(t, "shift", r.run(t, "shift", "--weight", "25", "--notify", ok.URL+"/flag"), 0, "")
	expectRun(t, "promote", r.run(t, "promote", "--notify", ok.URL+"/flag"), 0, "promote application-service: switch traffic from blue to green (ends the 25% shift); committed")
	commit := r.git(t, "rev-parse", "main")

	flag := ok.got("/flag")
	if len(flag) != 3 {
		t.Fatalf("%d events at /flag, want 3: %+v", len(flag), flag)
	}
	if env := ok.got("/from-env"); len(env) != 3 || env[0].Event != "deploy" {
		t.Errorf("$BGRENDER_NOTIFY got %+v", env)
	}
	w := func(e notify.Event) int32 {
		if e.Weight == nil {
			return -1
		}
		return *e.Weight
	}
	for i, want := range []struct {
		event, from, to, image string
		weight                 int32
		text                   string
	}{
		{"deploy", "blue", "green", "myapp:v2", -1, "bgrender: deploy application-service: myapp:v2 on green (commit "},
		{"shift", "blue", "green", "", 25, "bgrender: shift application-service: 25% to green (commit "},
		{"promote", "blue", "green", "", 100, "bgrender: promote application-service: blue → green (commit "},
	} {
		e := flag[i]
		if e.Event != want.event || e.App != "application-service" || e.From != want.from || e.To != want.to || e.Image != want.image ||
			w(e) != want.weight || e.Commit == "" || e.Branch != "main" || !strings.HasPrefix(e.Text, want.text) || e.At.IsZero() {
			t.Errorf("event %d = %+v, want %+v", i+1, e, want)
		}
	}
	if flag[2].Commit != commit {
		t.Errorf("the promote event names commit %s, main is %s", flag[2].Commit, commit)
	}
	for _, e := range ok.events {
		if strings.Contains(e.raw, gitToken) || strings.Contains(e.raw, r.url) {
			t.Errorf("an event holds the token or the repository URL: %s", e.raw)
		}
	}

	expectRun(t, "a webhook that is not a URL", r.run(t, "promote", "--to", "blue", "--notify", "hooks.example/x"), 2, "", "--notify (a webhook URL): want an absolute http or https URL")
}
