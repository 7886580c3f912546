package promtest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Exporter serves counters in Prometheus' text format. Each counter grows
// at a rate the test sets, so the rate Prometheus computes is known:
// SetRate changes the slope from now on without ever lowering the value.
type Exporter struct {
	mu     sync.Mutex
	now    func() time.Time
	series map[string]*counter
}

type counter struct {
	base  float64
	since time.Time
	rate  float64 // per second
}

func (c *counter) value(now time.Time) float64 {
	return c.base + c.rate*now.Sub(c.since).Seconds()
}

// NewExporter returns an exporter without series.
func NewExporter() *Exporter {
	return &Exporter{now: time.Now, series: map[string]*counter{}}
}

// SetRate makes the counter series (a metric name with its labels, e.g.
// `http_requests_total{code="500"}`) grow by perSecond from now on.
func (e *Exporter) SetRate(series string, perSecond float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	c := e.series[series]
	if c == nil {
		c = &counter{since: now}
		e.series[series] = c
	}
	c.base, c.since, c.rate = c.value(now), now, perSecond
}

// ServeHTTP writes every series with its current value.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	now := e.now()
	names := make([]string, 0, len(e.series))
	for s := range e.series {
		names = append(names, s)
	}
	sort.Strings(names)
	var b strings.Builder
	typed := map[string]bool{}
	for _, s := range names {
		metric, _, _ := strings.Cut(s, "{")
		if !typed[metric] {
			fmt.Fprintf(&b, "# TYPE %s counter\n", metric)
			typed[metric] = true
		}
		fmt.Fprintf(&b, "%s %g\n", s, e.series[s].value(now))
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}
