package loop

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// waitHealthy polls url until it answers 200, p exits, or ctx ends. HTTPS
// certificates are not verified (the components serve self-signed ones).
func waitHealthy(ctx context.Context, p *kubetest.Process, url string) error {
	return waitHealthyVia(ctx, p, url, &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed loopback servers
		},
	})
}

// waitHealthyVia is waitHealthy with the client to ask with (e.g. one
// whose connections start in the data plane node's namespace).
func waitHealthyVia(ctx context.Context, p *kubetest.Process, url string, client *http.Client) error {
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited during start-up (%v); last lines of its log:\n%s", p.Name, p.Err(), p.LogTail(logTailLines))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w (last check: %s); last lines of its log:\n%s", p.Name, ctx.Err(), last, p.LogTail(logTailLines))
		case <-tick.C:
		}
	}
}
