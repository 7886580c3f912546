// Package promtest runs a real Prometheus for tests, scraping exporters
// that the test controls on loopback every second.
//
// The binary comes from PROMETHEUS_BIN, else prometheus on PATH
// (hack/install-tools.sh prometheus installs the Debian package). When it is missing, Start skips the test under
// go test -short and fails it otherwise.
//
//	exp := promtest.NewExporter()
//	exp.SetRate(`http_requests_total{code="500"}`, 2) // 2 per second from now on
//	prom := promtest.Start(t, exp)
//	prom.WaitFor(t, ctx, `http_requests_total`)
package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvBin overrides where the prometheus binary is found.
const EnvBin = "PROMETHEUS_BIN"

// ScrapeInterval is how often Prometheus scrapes the exporters.
const ScrapeInterval = time.Second

// FindBinary locates prometheus.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBin); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Errorf("promtest: %s=%s is not a file", EnvBin, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	return "", errors.New("promtest: no prometheus binary (" + EnvBin + " unset, none on PATH); run hack/install-tools.sh prometheus")
}

// Server is a running Prometheus.
type Server struct {
	// URL is Prometheus' base URL, http://127.0.0.1:PORT.
	URL string
	dir string
	cmd *exec.Cmd
}

// Start serves each exporter on a loopback port, starts Prometheus with a
// config that scrapes them every ScrapeInterval (honoring the exporters'
// labels), waits until it is ready, and stops it when the test ends.
func Start(t testing.TB, exporters ...http.Handler) *Server {
	t.Helper()
	bin, err := FindBinary()
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	var targets []string
	for _, e := range exporters {
		hs := httptest.NewServer(e)
		t.Cleanup(hs.Close)
		targets = append(targets, strings.TrimPrefix(hs.URL, "http://"))
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: test
    honor_labels: true
    static_configs:
      - targets: [%s]
`, ScrapeInterval, ScrapeInterval, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + addr, dir: dir, cmd: cmd}
	t.Cleanup(s.stop)
	if err := s.waitReady(30 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		t.Fatalf("%v\nprometheus.log:\n%s", err, log)
	}
	return s
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("promtest: prometheus at %s not ready after %s", s.URL, timeout)
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Query runs an instant query and returns the number of series (or 1 for
// a scalar) in its result.
func (s *Server) Query(ctx context.Context, q string) (int, error) {
	u := s.URL + "/api/v1/query?" + url.Values{"query": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, errors.New(r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return 1, nil
	}
	return len(r.Data.Result), nil
}

// WaitFor waits until query returns at least one series.
func (s *Server) WaitFor(t testing.TB, ctx context.Context, query string) {
	t.Helper()
	for {
		n, err := s.Query(ctx, query)
		if err == nil && n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("promtest: %q returned nothing before the deadline (last error: %v)", query, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
