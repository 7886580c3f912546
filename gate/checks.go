package gate

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/spec"
)

// Checks are the gates of one promotion, as the app folder's spec.gates
// and the flags of promote, deploy --wait and check set them. They run in
// this order, each only when asked for: rollout, health, warm-up, error
// rate. The first that refuses ends the run.
type Checks struct {
	// RequireRollout waits up to Timeout for the color's Deployment.
	RequireRollout bool
	Timeout        time.Duration
	// Image, with RequireRollout, must be the image of a container of the
	// Deployment's pod template (deploy --wait).
	Image string

	// HealthPath is sent through the API server's service proxy to the
	// preview Service, on HealthPort (default: the Service's first port);
	// HealthURL is requested directly instead (a preview Ingress).
	HealthPath     string
	HealthURL      string
	HealthPort     string
	HealthAttempts int
	HealthBackoff  time.Duration

	// Warm paths are requested WarmRequests times each, through the
	// service proxy (or relative to HealthURL when set).
	Warm         []string
	WarmRequests int

	// PrometheusURL and MaxErrorRate (percent) enable the error-rate gate,
	// with Query (default DefaultErrorRateQuery) over Window.
	PrometheusURL string
	MaxErrorRate  float64
	Query         string
	Window        time.Duration
	AllowNoData   bool
	// Measurements of the error rate (default 1), MeasurementInterval
	// apart (default 30s); more than FailureLimit failed ones refuse.
	Measurements        int
	MeasurementInterval time.Duration
	FailureLimit        int

	// Capacity refuses when the color has fewer ready pods than Share
	// percent (0: 100, a flip) of what the live color runs now (see
	// Capacity); it runs after the rollout gate.
	Capacity bool
	Share    int32

	// ExpandJobs name, per color, the expand migration Job its image must
	// have run to success (see runMigration); the app folder's
	// spec.migrations sets them. It runs first.
	ExpandJobs map[string]string

	// Progress, if set, is told what each gate is doing.
	Progress func(msg string)
	// Record, if set, is given what each gate measured (see Result).
	Record func(Result)
}

// Subject is what the checks look at: the color about to go live.
type Subject struct {
	// Config and Client reach the API server; their requests may be
	// bounded by a per-request timeout (rest.Config.Timeout).
	Config *rest.Config
	Client dynamic.Interface
	// WatchClient watches (default: Client); it must have no per-request
	// timeout (see cluster.ForWatch).
	WatchClient dynamic.Interface
	Namespace   string
	App         string
	Color       string // blue or green
	ColorLabel  string
	// Service is the Service that routes to Color now (default
	// <app>-preview).
	Service string
	// Deployment runs Color (default <app>-<color>).
	Deployment string
	// LiveDeployment runs the live color, for the capacity gate (empty:
	// Color is live, or nothing is; the gate then has nothing to match).
	LiveDeployment string
}

// Any reports whether any gate is enabled.
func (c Checks) Any() bool {
	return c.RequireRollout || c.Capacity || len(c.ExpandJobs) > 0 || c.HealthPath != "" || c.HealthURL != "" || len(c.Warm) > 0 || c.PrometheusURL != ""
}

// Validate reports contradictory or impossible settings (bad usage),
// named by the flags that set them: a maximum error rate that is not a
// number of percent in (0, 100], a Prometheus or health URL that is not an
// absolute http(s) URL, a negative count or duration. Zero counts and
// durations take their defaults.
func (c Checks) Validate() error {
	switch m := c.MaxErrorRate; {
	case c.HealthPath != "" && c.HealthURL != "":
		return fmt.Errorf("--health-path and --health-url exclude each other")
	case math.IsNaN(m) || math.IsInf(m, 0) || m < 0 || m > 100:
		return fmt.Errorf("--max-error-rate %v: want a percentage greater than 0 and at most 100", m)
	case c.PrometheusURL != "" && m == 0:
		return fmt.Errorf("--prometheus-url needs --max-error-rate PERCENT (greater than 0)")
	case c.PrometheusURL == "" && (m > 0 || c.Query != ""):
		return fmt.Errorf("--max-error-rate and --query need --prometheus-url")
	case c.Timeout < 0:
		return fmt.Errorf("the rollout timeout %s is negative", c.Timeout)
	case c.HealthAttempts < 0:
		return fmt.Errorf("--health-attempts %d: want at least 1", c.HealthAttempts)
	case c.WarmRequests < 0:
		return fmt.Errorf("--warm-requests %d: want at least 1", c.WarmRequests)
	case c.Window < 0:
		return fmt.Errorf("--window %s: want a positive duration", c.Window)
	case c.Measurements < 0:
		return fmt.Errorf("--measurements %d: want at least 1", c.Measurements)
	case c.MeasurementInterval < 0:
		return fmt.Errorf("--measurement-interval %s: want a positive duration", c.MeasurementInterval)
	case c.FailureLimit < 0:
		return fmt.Errorf("--failure-limit %d: must not be negative", c.FailureLimit)
	case c.FailureLimit > 0 && c.FailureLimit >= max(c.Measurements, 1):
		return fmt.Errorf("--failure-limit %d must be less than --measurements (%d): with as many failures allowed as measurements, the gate could never refuse", c.FailureLimit, max(c.Measurements, 1))
	}
	if c.PrometheusURL != "" {
		if err := ValidHTTPURL(c.PrometheusURL); err != nil {
			return fmt.Errorf("--prometheus-url %w", err)
		}
	}
	if u := spec.UnknownPlaceholder(c.Query); u != "" {
		return fmt.Errorf("--query: unknown placeholder at %q; the placeholders are %s", u, strings.Join(spec.QueryPlaceholders, " "))
	}
	if c.HealthURL != "" {
		if err := ValidHTTPURL(c.HealthURL); err != nil {
			return fmt.Errorf("--health-url %w", err)
		}
	}
	return nil
}

// runCapacity runs the capacity gate, when asked and when another color
// is live.
func (c Checks) runCapacity(ctx context.Context, s Subject) error {
	if !c.Capacity {
		return nil
	}
	began := time.Now()
	res := Result{Gate: "capacity", Color: s.Color}
	if s.LiveDeployment == "" {
		c.say("capacity: no other color is live: nothing to match")
		res.Outcome, res.Measured = Skipped, "no other color is live: nothing to match"
		c.record(began, res, nil)
		return nil
	}
	share := c.Share
	if share == 0 {
		share = 100
	}
	deploy := s.Deployment
	if deploy == "" {
		deploy = s.App + "-" + s.Color
	}
	r, err := Capacity{Client: s.Client, Namespace: s.Namespace, Live: s.LiveDeployment, To: deploy, Share: share}.Run(ctx)
	if err == nil {
		c.say("capacity: %s: %s", s.Color, r)
	}
	res.Measured = fmt.Sprintf("%d ready pods of %s", r.Ready, deploy)
	res.Threshold = fmt.Sprintf("at least %d: %d%% of the %d the live color runs (%s)", r.Need, share, r.LiveRuns, r.From)
	c.record(began, res, err)
	return err
}

// ValidHTTPURL reports a URL that is not an absolute http or https URL
// with a host; the error shows the URL redacted (see RedactURL).
func ValidHTTPURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL", RedactURL(rawURL))
	}
	return nil
}

// Run runs the enabled gates in order, giving each one's Result to
// Record.
func (c Checks) Run(ctx context.Context, s Subject) error {
	if s.Service == "" {
		s.Service = s.App + "-preview"
	}
	if err := c.runMigration(ctx, s); err != nil {
		return err
	}
	if c.RequireRollout {
		if err := c.runRollout(ctx, s); err != nil {
			return err
		}
	}
	if err := c.runCapacity(ctx, s); err != nil {
		return err
	}
	if c.HealthPath != "" || c.HealthURL != "" || len(c.Warm) > 0 {
		target, err := c.target(ctx, s)
		if err != nil {
			c.record(time.Now(), Result{Gate: c.firstHTTPGate(), Color: s.Color}, err)
			return err
		}
		if c.HealthPath != "" || c.HealthURL != "" {
			if err := c.runHealth(ctx, s, target); err != nil {
				return err
			}
		}
		if len(c.Warm) > 0 {
			if err := c.runWarm(ctx, s, target); err != nil {
				return err
			}
		}
	}
	if c.PrometheusURL != "" {
		return c.runErrorRate(ctx, s)
	}
	return nil
}

func (c Checks) runRollout(ctx context.Context, s Subject) error {
	deploy := s.Deployment
	if deploy == "" {
		deploy = s.App + "-" + s.Color
	}
	c.say("rollout: waiting for deployment %s/%s (at most %s)", s.Namespace, deploy, c.Timeout)
	began, last := time.Now(), ""
	progress := func(m string) {
		last = m
		if c.Progress != nil {
			c.Progress("rollout: " + deploy + ": " + m)
		}
	}
	g := RolloutGate{Client: s.Client, WatchClient: s.WatchClient, Namespace: s.Namespace, Deployment: deploy, Timeout: c.Timeout, Image: c.Image, Progress: progress}
	err := g.Run(ctx)
	threshold := fmt.Sprintf("rolled out within %s", c.Timeout)
	if c.Image != "" {
		threshold = fmt.Sprintf("rolled out running %s within %s", c.Image, c.Timeout)
	}
	c.record(began, Result{Gate: "rollout", Color: s.Color, Measured: fmt.Sprintf("Deployment %s: %s", deploy, last), Threshold: threshold}, err)
	return err
}

func (c Checks) runHealth(ctx context.Context, s Subject, target Target) error {
	url := target.display(c.HealthPath)
	c.say("health: GET %s", url)
	began, attempts, answer := time.Now(), 0, ""
	h := Health{Target: target, Path: c.HealthPath, Attempts: c.HealthAttempts, Backoff: c.HealthBackoff, Progress: c.prefixed("health: "),
		Observe: func(n int, a string) { attempts, answer = n, a }}
	err := h.Run(ctx)
	tries := "attempt"
	if attempts != 1 {
		tries = "attempts"
	}
	c.record(began, Result{Gate: "health", Color: s.Color, Measured: fmt.Sprintf("GET %s: %s after %d %s", url, answer, attempts, tries),
		Threshold: fmt.Sprintf("2xx or 3xx within %d attempts", h.attempts())}, err)
	return err
}

func (c Checks) runWarm(ctx context.Context, s Subject, target Target) error {
	n := max(c.WarmRequests, 1)
	c.say("warm-up: %d paths, %d requests each", len(c.Warm), n)
	began := time.Now()
	err := (Warm{Target: target, Paths: c.Warm, Requests: c.WarmRequests}).Run(ctx)
	c.record(began, Result{Gate: "warm-up", Color: s.Color, Measured: fmt.Sprintf("%d requests to %s answered", n*len(c.Warm), strings.Join(c.Warm, ", ")),
		Threshold: "no 5xx, no transport error"}, err)
	return err
}

func (c Checks) runErrorRate(ctx context.Context, s Subject) error {
	q := c.Query
	if q == "" {
		q = DefaultErrorRateQuery
	}
	q = ExpandQuery(q, QueryVars{App: s.App, Namespace: s.Namespace, ColorLabel: s.ColorLabel, Color: s.Color, Window: c.Window})
	began := time.Now()
	res := Result{Gate: "error-rate", Color: s.Color, Threshold: c.errorRateThreshold(c.Window)}
	g := ErrorRate{URL: c.PrometheusURL, Query: q, Max: c.MaxErrorRate, AllowNoData: c.AllowNoData,
		Count: c.Measurements, Interval: c.MeasurementInterval, FailureLimit: c.FailureLimit, Progress: c.prefixed("error-rate: "),
		Observe: func(m Measurement) { res.Readings = append(res.Readings, m) }}
	if n := max(c.Measurements, 1); n > 1 {
		c.say("error-rate: %d measurements, %s apart, at most %d failed", n, g.interval(), c.FailureLimit)
	}
	err := g.Run(ctx)
	res.Measured = readings(res.Readings)
	c.record(began, res, err)
	return err
}

// readings says the error-rate measurements in a line: "0.4%, 0.2%".
func readings(ms []Measurement) string {
	if len(ms) == 0 {
		return "no measurement"
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = FormatPercent(m.Percent) + "%"
		if m.NoData {
			out[i] = "no data"
		}
	}
	return "error rate " + strings.Join(out, ", ")
}

// firstHTTPGate names the first gate that needs the preview's address.
func (c Checks) firstHTTPGate() string {
	if c.HealthPath != "" || c.HealthURL != "" {
		return "health"
	}
	return "warm-up"
}

// target is where health and warm-up requests go.
func (c Checks) target(ctx context.Context, s Subject) (Target, error) {
	if c.HealthURL != "" {
		return Direct(c.HealthURL)
	}
	port := c.HealthPort
	if port == "" {
		var err error
		if port, err = firstPort(ctx, s.Client, s.Namespace, s.Service); err != nil {
			return Target{}, err
		}
	}
	return ServiceProxy(s.Config, s.Namespace, s.Service, port, "")
}

// firstPort is the name (else the number) of a Service's first port,
// read with a list request (the permission status needs anyway).
func firstPort(ctx context.Context, dyn dynamic.Interface, ns, name string) (string, error) {
	l, err := dyn.Resource(cluster.Services).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return "", fmt.Errorf("health gate: read service %s/%s: %w", ns, name, err)
	}
	if len(l.Items) == 0 {
		return "", refuse("health", "service %s/%s does not exist", ns, name)
	}
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[0].Object, &svc); err != nil {
		return "", err
	}
	if len(svc.Spec.Ports) == 0 {
		return "", refuse("health", "service %s/%s has no ports", ns, name)
	}
	p := svc.Spec.Ports[0]
	if p.Name != "" {
		return p.Name, nil
	}
	return strconv.Itoa(int(p.Port)), nil
}

func (c Checks) say(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}

func (c Checks) prefixed(prefix string) func(string) {
	if c.Progress == nil {
		return nil
	}
	return func(m string) { c.Progress(prefix + m) }
}
