package netnstest_test

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/netnstest"
)

// TestServeFromNamespace: the host reaches the handler at a 10.211.x.x
// address, the listener really is inside the namespace (the namespace's
// own view lists it), and Close removes the namespace.
func TestServeFromNamespace(t *testing.T) {
	var calls atomic.Int32
	s := netnstest.Start(t, 8080, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, "hello from "+r.Host)
	}))
	if !strings.HasPrefix(s.IP, "10.211.") {
		t.Fatalf("IP %s", s.IP)
	}
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from "+s.IP+":8080" {
		t.Errorf("body %q", body)
	}
	hostView, _ := exec.Command("ss", "-ltn").Output()
	if strings.Contains(string(hostView), s.IP+":8080") {
		t.Errorf("listener visible in the host's namespace:\n%s", hostView)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil || strings.Contains(string(list), s.Namespace()) {
		t.Errorf("namespace left behind:\n%s", list)
	}
	// After Close the address may be answered by whatever routes
	// 10.211.0.0/16 beyond this host (some sandboxes' gateways answer
	// every address with a 404), so what matters is that our handler is
	// not reached any more.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(s.URL + "/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.HasPrefix(string(body), "hello from ") {
			t.Errorf("the handler still answers after Close: %q", body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}
