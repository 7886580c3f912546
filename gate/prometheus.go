package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bgrender/bgrender/internal/exitcode"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultErrorRateQuery is the PromQL that ErrorRate runs unless told
// otherwise: the percentage of the color's HTTP requests that answered 5xx
// over the window. {{app}}, {{colorLabel}}, {{color}}, {{namespace}} and
// {{window}} are replaced (see ExpandQuery). It assumes the usual
// kubernetes_sd relabeling that maps pod labels to Prometheus labels
// (app.kubernetes.io/name → app_kubernetes_io_name) and an
// http_requests_total counter with a code label.
const DefaultErrorRateQuery = `100 * sum(rate(http_requests_total{app_kubernetes_io_name="{{app}}",{{colorLabel}}="{{color}}",code=~"5.."}[{{window}}]))` +
	` / sum(rate(http_requests_total{app_kubernetes_io_name="{{app}}",{{colorLabel}}="{{color}}"}[{{window}}]))`

// QueryVars fill a query's placeholders.
type QueryVars struct {
	App        string
	Namespace  string
	ColorLabel string // a Kubernetes label key; sanitized as Prometheus does
	Color      string
	Window     time.Duration // default 1m
}

var nonLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// PromLabel turns a Kubernetes label key into the Prometheus label name
// that kubernetes_sd's labelmap gives it: bgrender.io/color → bgrender_io_color.
func PromLabel(key string) string { return nonLabelChars.ReplaceAllString(key, "_") }

// ExpandQuery replaces {{app}}, {{namespace}}, {{colorLabel}}, {{color}}
// and {{window}} in query.
func ExpandQuery(query string, v QueryVars) string {
	window := v.Window
	if window <= 0 {
		window = time.Minute
	}
	return strings.NewReplacer(
		"{{app}}", v.App,
		"{{namespace}}", v.Namespace,
		"{{colorLabel}}", PromLabel(v.ColorLabel),
		"{{color}}", v.Color,
		"{{window}}", strconv.Itoa(int(window.Round(time.Second).Seconds()))+"s",
	).Replace(query)
}

// ErrorRate runs a PromQL instant query whose value is an error rate in
// percent, as an Argo Rollouts AnalysisTemplate measures a metric: Count
// measurements, Interval apart; a measurement at or above Max fails, and
// the gate refuses as soon as more than FailureLimit have failed.
//
// An inconclusive measurement blocks: the gate never passes on it, unlike
// an Argo Rollouts blueGreen strategy whose autoPromotionSeconds promotes
// when its timer runs out. No data (unless AllowNoData) is a refusal (exit
// 3): Prometheus answered, and nothing shows the color is fit. A query that
// fails after its Attempts is an ordinary error (exit 1: Prometheus could
// not be read, a re-run may pass), one that Prometheus rejects is bad input
// (exit 2). Either way the gate does not pass and nothing is committed.
type ErrorRate struct {
	Client *http.Client // default: a client with a 30s timeout
	URL    string       // Prometheus' base URL, e.g. http://prometheus:9090
	Query  string       // an expanded query (see ExpandQuery)
	Max    float64      // percent
	// Count of measurements (default 1), Interval apart (default 30s);
	// FailureLimit is how many may fail before the gate refuses.
	Count        int
	Interval     time.Duration
	FailureLimit int
	// Attempts is how often a failed query (Prometheus unreachable or
	// answering with an error) is tried, RetryWait apart; default 3, 1s.
	Attempts  int
	RetryWait time.Duration
	// AllowNoData passes a measurement when the query returns no value
	// (no traffic, noData: pass); otherwise no data blocks.
	AllowNoData bool
	// Progress, if set, is told each measurement; Observe is given it.
	Progress func(msg string)
	Observe  func(Measurement)
}

// ErrNoData is returned by Measure when the query has no value.
var ErrNoData = errors.New("query returned no data")

// Run takes the measurements: nil when at most FailureLimit of them are
// at or above Max; a refusal (exit 3) on the one that exceeds the limit or
// on a measurement without data (unless AllowNoData); an ordinary error
// when Prometheus cannot be queried.
func (g ErrorRate) Run(ctx context.Context) error {
	count, interval := max(g.Count, 1), g.interval()
	failed := 0
	for i := 1; i <= count; i++ {
		if i > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(interval):
			}
		}
		v, err := g.Measure(ctx)
		of := ""
		if count > 1 {
			of = fmt.Sprintf("measurement %d of %d: ", i, count)
		}
		switch {
		case errors.Is(err, ErrNoData):
			g.observe(Measurement{NoData: true})
		case err == nil:
			g.observe(Measurement{Percent: v, Failed: v >= g.Max})
		}
		switch {
		case errors.Is(err, ErrNoData) && g.AllowNoData:
			g.say("%sno data (noData: pass)", of)
			continue
		case errors.Is(err, ErrNoData):
			return refuse("error-rate", "%sblocked: the measurement is inconclusive: %s (noData: block): %s", of, ErrNoData, g.Query)
		case err != nil:
			return fmt.Errorf("%sblocked: the measurement is inconclusive: %w", of, err)
		case v >= g.Max:
			failed++
			g.say("%s%s%% failed (maximum %s%%; %d failed, limit %d)", of, FormatPercent(v), FormatPercent(g.Max), failed, g.FailureLimit)
			if failed > g.FailureLimit {
				if count == 1 {
					return refuse("error-rate", "error rate %s%% is not under the maximum %s%% (query: %s)", FormatPercent(v), FormatPercent(g.Max), g.Query)
				}
				return refuse("error-rate", "%serror rate %s%% is not under the maximum %s%%: %d of %d measurements failed, more than the failure limit %d (query: %s)", of, FormatPercent(v), FormatPercent(g.Max), failed, count, g.FailureLimit, g.Query)
			}
		default:
			g.say("%s%s%% (maximum %s%%)", of, FormatPercent(v), FormatPercent(g.Max))
		}
	}
	return nil
}

// interval is the time between two measurements.
func (g ErrorRate) interval() time.Duration {
	if g.Interval <= 0 {
		return 30 * time.Second
	}
	return g.Interval
}

func (g ErrorRate) observe(m Measurement) {
	if g.Observe != nil {
		g.Observe(m)
	}
}

func (g ErrorRate) say(format string, args ...any) {
	if g.Progress != nil {
		g.Progress(fmt.Sprintf(format, args...))
	}
}

// FormatPercent shows a percentage with at most three decimals: 8.728, 0.5.
func FormatPercent(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// Measure runs the query and returns its value; with several series, the
// highest. It retries failures Attempts times.
func (g ErrorRate) Measure(ctx context.Context) (float64, error) {
	attempts := g.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	wait := g.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(wait):
			}
		}
		var v float64
		v, err = g.query(ctx)
		if err == nil || errors.Is(err, ErrNoData) || ctx.Err() != nil || exitcode.Of(err) == exitcode.Invalid {
			return v, err
		}
	}
	return 0, fmt.Errorf("error-rate gate: query Prometheus at %s (%d attempts): %w", RedactURL(g.URL), attempts, err)
}

// promResponse is the envelope of Prometheus' HTTP API.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

func (g ErrorRate) query(ctx context.Context) (float64, error) {
	base, err := url.Parse(g.URL)
	if err != nil || base.Host == "" {
		return 0, fmt.Errorf("prometheus URL %q: want an absolute http(s) URL", RedactURL(g.URL))
	}
	u := base.JoinPath("api/v1/query")
	q := base.Query() // keep what the URL carries (a proxy's token)
	q.Set("query", g.Query)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, redactErr(err)
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second} // a query answers in milliseconds
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, redactErr(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, err
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return 0, fmt.Errorf("HTTP %d: not a Prometheus API answer: %s", resp.StatusCode, HideSecretsOf(oneLine(string(body)), g.URL))
	}
	if pr.Status != "success" && pr.ErrorType == "bad_data" {
		// The query itself is wrong: asking again will not help.
		return 0, exitcode.Invalidf("Prometheus rejects the query: %s: %s (query: %s)", pr.ErrorType, HideSecretsOf(pr.Error, g.URL), g.Query)
	}
	if pr.Status != "success" {
		return 0, fmt.Errorf("HTTP %d: %s: %s", resp.StatusCode, pr.ErrorType, HideSecretsOf(pr.Error, g.URL))
	}
	return value(pr.Data.ResultType, pr.Data.Result)
}

// value reads a scalar or the highest sample of a vector; NaN (0/0, no
// traffic) counts as no data.
func value(resultType string, raw json.RawMessage) (float64, error) {
	var samples [][2]any
	switch resultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("read scalar result: %w", err)
		}
		samples = append(samples, s)
	case "vector":
		var vec []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return 0, fmt.Errorf("read vector result: %w", err)
		}
		for _, s := range vec {
			samples = append(samples, s.Value)
		}
	default:
		return 0, fmt.Errorf("query returned a %s; want a scalar or an instant vector", resultType)
	}
	found := false
	best := math.Inf(-1)
	for _, s := range samples {
		str, _ := s[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return 0, fmt.Errorf("sample value %q: %w", str, err)
		}
		if math.IsNaN(v) {
			continue
		}
		found = true
		best = max(best, v)
	}
	if !found {
		return 0, ErrNoData
	}
	return best, nil
}
