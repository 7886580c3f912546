package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Target is where the HTTP gates send requests: a base URL and the client
// that reaches it.
type Target struct {
	Client *http.Client
	Base   *url.URL
	// Proxied is set for the API server's service proxy: a 401 or 403
	// that the API server itself sends (a Status object) is then an error
	// about the caller's permissions, not an answer of the application.
	Proxied bool
}

// ServiceProxy returns a Target that reaches a Service through the API
// server's service proxy,
// /api/v1/namespaces/NAMESPACE/services/[https:]SERVICE:PORT/proxy/, with
// the credentials of cfg: no port-forward, no kubectl, and no network path
// to the pods needed. port is the Service port's name or number; scheme is
// "" (http) or "https". The caller needs get on services/proxy.
func ServiceProxy(cfg *rest.Config, namespace, service, port, scheme string) (Target, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return Target{}, fmt.Errorf("service proxy client: %w", err)
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	base, err := url.Parse(host)
	if err != nil {
		return Target{}, fmt.Errorf("service proxy: API server URL %q: %w", cfg.Host, err)
	}
	id := service
	if port != "" {
		id += ":" + port
	}
	if scheme != "" && scheme != "http" {
		id = scheme + ":" + id
	}
	base = base.JoinPath("/api/v1/namespaces", namespace, "services", id, "proxy")
	return Target{Client: hc, Base: base, Proxied: true}, nil
}

// Direct returns a Target for a plain URL, such as a preview Ingress.
func Direct(rawURL string) (Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Target{}, fmt.Errorf("health URL %q: want an absolute http(s) URL", RedactURL(rawURL))
	}
	return Target{Client: &http.Client{Timeout: 10 * time.Second}, Base: u}, nil
}

// URL returns the target's URL for path (which may carry a query); an
// empty path is the base URL itself.
func (t Target) URL(path string) string {
	if path == "" {
		return t.Base.String()
	}
	ref, err := url.Parse(path)
	if err != nil {
		return t.Base.JoinPath(path).String()
	}
	u := t.Base.JoinPath(ref.Path)
	if strings.HasSuffix(ref.Path, "/") && !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if ref.RawQuery != "" {
		u.RawQuery = ref.RawQuery
	}
	return u.String()
}

// display is the target's URL for path fit to print (see RedactURL).
func (t Target) display(path string) string { return RedactURL(t.URL(path)) }

// get sends one GET and returns the status code and the start of the body.
func (t Target) get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL(path), nil)
	if err != nil {
		return 0, "", redactErr(err)
	}
	req.Header.Set("User-Agent", "bgrender")
	resp, err := t.Client.Do(req)
	if err != nil {
		return 0, "", redactErr(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if t.Proxied && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		var st struct {
			Kind, Reason, Message string
		}
		if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && (st.Reason == "Forbidden" || st.Reason == "Unauthorized") {
			return 0, "", &proxyDenied{url: t.display(path), msg: st.Message}
		}
	}
	return resp.StatusCode, HideSecretsOf(oneLine(string(body)), t.URL(path)), nil
}

// proxyDenied is the API server refusing the caller the service proxy.
type proxyDenied struct{ url, msg string }

func (e *proxyDenied) Error() string {
	return fmt.Sprintf("GET %s: the API server denied the service proxy: %s (needs get on services/proxy)", e.url, e.msg)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func ok(code int) bool { return code >= 200 && code < 400 }

// Health sends GET Path to the target until it answers 2xx or 3xx, up to
// Attempts times, waiting Backoff after the first failure and twice as long
// after each next one (at most MaxBackoff).
type Health struct {
	Target     Target
	Path       string
	Attempts   int           // default 5
	Backoff    time.Duration // default 1s
	MaxBackoff time.Duration // default 30s
	// Progress, if set, is told about each failed attempt; Observe is
	// given each attempt's number and answer ("HTTP 200", or the error).
	Progress func(msg string)
	Observe  func(attempt int, answer string)
}

// attempts is how many times Run tries.
func (h Health) attempts() int {
	if h.Attempts <= 0 {
		return 5
	}
	return h.Attempts
}

// Run checks health: nil, or a refusal (exit 3) once the attempts are
// spent; an ordinary error when the API server denies the caller the
// service proxy or the context ends first.
func (h Health) Run(ctx context.Context) error {
	attempts := h.attempts()
	wait := h.Backoff
	if wait <= 0 {
		wait = time.Second
	}
	maxWait := h.MaxBackoff
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	url := h.Target.display(h.Path)
	var last string
	for i := 1; ; i++ {
		code, body, err := h.Target.get(ctx, h.Path)
		if h.Observe != nil && ctx.Err() == nil {
			answer := fmt.Sprintf("HTTP %d", code)
			if err != nil {
				answer = err.Error()
			}
			h.Observe(i, answer)
		}
		switch {
		case err == nil && ok(code):
			return nil
		case err != nil:
			var denied *proxyDenied
			if ctx.Err() != nil {
				return ctx.Err()
			} else if errors.As(err, &denied) {
				return fmt.Errorf("health gate: %w", err)
			}
			last = err.Error()
		default:
			last = fmt.Sprintf("HTTP %d", code)
			if body != "" {
				last += ": " + body
			}
		}
		if h.Progress != nil {
			h.Progress(fmt.Sprintf("attempt %d of %d: GET %s: %s", i, attempts, url, last))
		}
		if i == attempts {
			return refuse("health", "GET %s failed %d times; last: %s", url, attempts, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// Warm sends Requests GET requests (default 1) to each of Paths, one after
// the other, to fill the preview color's caches before the flip. A
// transport error or a 5xx answer refuses: the preview color is not ready
// for traffic. 4xx answers are the application's business and pass.
type Warm struct {
	Target   Target
	Paths    []string
	Requests int
}

// Run sends the warm-up requests.
func (w Warm) Run(ctx context.Context) error {
	n := w.Requests
	if n <= 0 {
		n = 1
	}
	for _, p := range w.Paths {
		for i := 0; i < n; i++ {
			code, body, err := w.Target.get(ctx, p)
			var denied *proxyDenied
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				} else if errors.As(err, &denied) {
					return fmt.Errorf("warm-up gate: %w", err)
				}
				return refuse("warm-up", "GET %s: %v", w.Target.display(p), err)
			}
			if code >= 500 {
				return refuse("warm-up", "GET %s: HTTP %d: %s", w.Target.display(p), code, body)
			}
		}
	}
	return nil
}
