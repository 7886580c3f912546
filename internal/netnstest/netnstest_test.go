package netnstest_test

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/netnstest"
)

// TestServeFromNamespace: the host reaches the handler at a 10.211.x.x
// address, the listener really is inside the namespace (the namespace's
// own view lists it), and Close removes the namespace.
func TestServeFromNamespace(t *testing.T) {
	s := netnstest.Start(t, 8080, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	if _, err := http.Get(s.URL + "/"); err == nil {
		t.Error("server still answers after Close")
	}
}
