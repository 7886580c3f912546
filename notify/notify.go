package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bgrender/bgrender/evidence"
	"github.com/bgrender/bgrender/gate"
)

// Event is one transition of a release.
type Event struct {
	// Text is what a chat shows (Slack's and Mattermost's "text").
	Text string `json:"text"`
	// Event names the transition: deploy, promote, step, rollback, shift,
	// scale-idle, guard-breach, or refused and failed when a release
	// stops.
	Event     string `json:"event"`
	App       string `json:"app"`
	Namespace string `json:"namespace,omitempty"`
	// Action is the command's action (promote for each step of a stepped
	// promotion).
	Action string `json:"action"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	// Weight is the share of traffic that goes to To after the
	// transition, when it moves traffic.
	Weight *int32 `json:"weight,omitempty"`
	Image  string `json:"image,omitempty"`
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
	// PullRequest is the pull request's page, when the change is one.
	PullRequest string `json:"pullRequest,omitempty"`
	// Reason says why a release stopped, or what guard saw.
	Reason string        `json:"reason,omitempty"`
	Gates  []gate.Result `json:"gates,omitempty"`
	// Breach is what guard saw (guard-breach): the breached color, the
	// maximum and the error-rate readings that led to its reaction.
	Breach *evidence.Breach `json:"breach,omitempty"`
	// Seconds is the time from the command's start.
	Seconds float64   `json:"seconds"`
	At      time.Time `json:"at"`
}

// Notifier posts events to webhooks.
type Notifier struct {
	URLs []string
	// Client sends the requests (default http.DefaultClient); each
	// request is bounded by Timeout (default 5s).
	Client  *http.Client
	Timeout time.Duration
	// Attempts per URL (default 3) for transport errors, timeouts, 429
	// and 5xx answers, Backoff after the first (default 500ms) and twice
	// as long after each next one.
	Attempts int
	Backoff  time.Duration
	// Warn is told about each event a URL did not take (default:
	// nothing is said).
	Warn func(msg string)
}

// Send posts ev to every URL, in order, and returns once each took it
// or its attempts ran out. It never fails: a URL that does not take the
// event is a warning.
func (n *Notifier) Send(ctx context.Context, ev Event) {
	if n == nil || len(n.URLs) == 0 {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		n.warn("notify: encode the %s event: %v", ev.Event, err)
		return
	}
	for _, u := range n.URLs {
		if err := n.post(ctx, u, body); err != nil {
			n.warn("warning: notify %s: the %s event was not delivered: %v", Display(u), ev.Event, err)
		}
	}
}

// post sends body to u, retrying what may pass on a next attempt.
func (n *Notifier) post(ctx context.Context, u string, body []byte) error {
	attempts, wait := n.Attempts, n.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	var err error
	for i := 1; i <= attempts; i++ {
		var retry bool
		if retry, err = n.once(ctx, u, body); err == nil || !retry {
			return err
		}
		if i < attempts {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
	}
	return fmt.Errorf("%d attempts; last: %w", attempts, err)
}

// once makes one request; retry says whether another may pass.
func (n *Notifier) once(ctx context.Context, u string, body []byte) (retry bool, err error) {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bgrender")
	c := n.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return true, fmt.Errorf("no answer within %s", timeout)
		}
		// The error names the URL: say only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("HTTP %d", code)
	default:
		return false, fmt.Errorf("HTTP %d", code)
	}
}

func (n *Notifier) warn(format string, args ...any) {
	if n.Warn != nil {
		n.Warn(fmt.Sprintf(format, args...))
	}
}

// Display shows a webhook URL without its secrets: its scheme and host.
// A webhook's path is often its only credential (Slack's, Mattermost's).
func Display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a webhook URL)"
	}
	s := u.Scheme + "://" + u.Host
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// Validate reports a webhook URL that is not an absolute http(s) URL, in
// the words of the flag that set it.
func Validate(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--notify %s: want an absolute http or https URL", Display(raw))
	}
	return nil
}

// Parse splits a list of webhook URLs separated by commas or spaces, as
// BGRENDER_NOTIFY holds them.
func Parse(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}
