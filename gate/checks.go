package gate

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/cluster"
)

// Checks are the gates of one promotion, as the flags of promote, deploy
// --wait and check set them. They run in this order, each only when
// asked for: rollout, health, warm-up, error rate. The first that refuses
// ends the run.
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

	// Progress, if set, is told what each gate is doing.
	Progress func(msg string)
}

// Subject is what the checks look at: the color about to go live.
type Subject struct {
	Config     *rest.Config
	Client     dynamic.Interface
	Namespace  string
	App        string
	Color      string // blue or green
	ColorLabel string
	// Service is the Service that routes to Color now (default
	// <app>-preview).
	Service string
}

// Any reports whether any gate is enabled.
func (c Checks) Any() bool {
	return c.RequireRollout || c.HealthPath != "" || c.HealthURL != "" || len(c.Warm) > 0 || c.PrometheusURL != ""
}

// Validate reports contradictory settings (bad usage).
func (c Checks) Validate() error {
	switch {
	case c.HealthPath != "" && c.HealthURL != "":
		return fmt.Errorf("--health-path and --health-url exclude each other")
	case c.PrometheusURL != "" && c.MaxErrorRate <= 0:
		return fmt.Errorf("--prometheus-url needs --max-error-rate PERCENT (greater than 0)")
	case c.PrometheusURL == "" && (c.MaxErrorRate > 0 || c.Query != ""):
		return fmt.Errorf("--max-error-rate and --query need --prometheus-url")
	}
	return nil
}

// Run runs the enabled gates in order.
func (c Checks) Run(ctx context.Context, s Subject) error {
	if s.Service == "" {
		s.Service = s.App + "-preview"
	}
	if c.RequireRollout {
		deploy := s.App + "-" + s.Color
		c.say("rollout: waiting for deployment %s/%s (at most %s)", s.Namespace, deploy, c.Timeout)
		g := RolloutGate{Client: s.Client, Namespace: s.Namespace, Deployment: deploy, Timeout: c.Timeout, Image: c.Image, Progress: c.prefixed("rollout: " + deploy + ": ")}
		if err := g.Run(ctx); err != nil {
			return err
		}
	}
	if c.HealthPath != "" || c.HealthURL != "" || len(c.Warm) > 0 {
		target, err := c.target(ctx, s)
		if err != nil {
			return err
		}
		if c.HealthPath != "" || c.HealthURL != "" {
			c.say("health: GET %s", target.URL(c.HealthPath))
			h := Health{Target: target, Path: c.HealthPath, Attempts: c.HealthAttempts, Backoff: c.HealthBackoff, Progress: c.prefixed("health: ")}
			if err := h.Run(ctx); err != nil {
				return err
			}
		}
		if len(c.Warm) > 0 {
			c.say("warm-up: %d paths, %d requests each", len(c.Warm), max(c.WarmRequests, 1))
			if err := (Warm{Target: target, Paths: c.Warm, Requests: c.WarmRequests}).Run(ctx); err != nil {
				return err
			}
		}
	}
	if c.PrometheusURL != "" {
		q := c.Query
		if q == "" {
			q = DefaultErrorRateQuery
		}
		q = ExpandQuery(q, QueryVars{App: s.App, Namespace: s.Namespace, ColorLabel: s.ColorLabel, Color: s.Color, Window: c.Window})
		g := ErrorRate{URL: c.PrometheusURL, Query: q, Max: c.MaxErrorRate, AllowNoData: c.AllowNoData}
		v, err := g.Measure(ctx)
		if err == nil {
			c.say("error-rate: %s%% (maximum %s%%)", FormatPercent(v), FormatPercent(c.MaxErrorRate))
		}
		if err := g.decide(v, err); err != nil {
			return err
		}
	}
	return nil
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
