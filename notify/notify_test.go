package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/notify"
)

// receiver is a real HTTP server that records the events it takes.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	hits   int
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.hits++
		rc.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if answer != nil {
			answer(w, r)
			return
		}
		rc.mu.Lock()
		rc.events = append(rc.events, ev)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func TestSendDeliversRetriesAndWarns(t *testing.T) {
	ok := newReceiver(t, nil)
	failing := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	release := make(chan struct{})
	hanging := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	rejecting := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no such hook", http.StatusNotFound) })

	var warnings []string
	// The hanging URL's path is its secret, as a Slack webhook's is.
	n := &notify.Notifier{URLs: []string{failing.URL + "/hooks/T0/B0/s3cr3t", hanging.URL + "/hooks/xyz-secret", rejecting.URL, ok.URL},
		Timeout: 300 * time.Millisecond, Attempts: 3, Backoff: 50 * time.Millisecond, Warn: func(m string) { warnings = append(warnings, m) }}
	w := int32(50)
	began := time.Now()
	n.Send(context.Background(), notify.Event{Text: "bgrender: promote web: 50% to green", Event: "step", App: "web", Action: "promote", From: "blue", To: "green", Weight: &w})
	took := time.Since(began)

	if len(ok.events) != 1 || ok.events[0]["text"] != "bgrender: promote web: 50% to green" || ok.events[0]["weight"] != 50.0 || ok.events[0]["to"] != "green" {
		t.Fatalf("the working receiver got %v", ok.events)
	}
	if failing.hits != 3 || hanging.hits != 3 || rejecting.hits != 1 {
		t.Errorf("attempts: 500 answered %d, hanging %d, 404 %d; want 3, 3, 1 (a 4xx is not retried)", failing.hits, hanging.hits, rejecting.hits)
	}
	// 3 × 300ms for the hanging one, the backoffs (50ms + 100ms) twice.
	if took > 3*time.Second {
		t.Errorf("Send took %s", took)
	}
	all := strings.Join(warnings, "\n")
	if len(warnings) != 3 || !strings.Contains(all, "HTTP 500") || !strings.Contains(all, "no answer within 300ms") || !strings.Contains(all, "HTTP 404") {
		t.Errorf("warnings:\n%s", all)
	}
	if strings.Contains(all, "s3cr3t") || strings.Contains(all, "xyz-secret") || strings.Contains(all, "/hooks") {
		t.Errorf("a webhook's secret path is in a warning:\n%s", all)
	}
}

func TestParseAndValidate(t *testing.T) {
	got := notify.Parse(" https://a.example/h1,https://b.example/h2  http://c.example ,")
	if strings.Join(got, "|") != "https://a.example/h1|https://b.example/h2|http://c.example" {
		t.Errorf("Parse = %q", got)
	}
	if err := notify.Validate("ftp://x.example/hook"); err == nil || !strings.Contains(err.Error(), "--notify ftp://x.example/…") {
		t.Errorf("Validate(ftp) = %v", err)
	}
	if err := notify.Validate("https://hooks.example/services/T/B/secret"); err != nil {
		t.Error(err)
	}
	if d := notify.Display("https://user:pw@hooks.example/services/T/B/secret?token=x"); d != "https://hooks.example/…" {
		t.Errorf("Display = %q", d)
	}
}
