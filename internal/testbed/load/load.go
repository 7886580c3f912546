// Package load is a small HTTP load generator for tests: a fixed number of
// clients send requests one after the other, for a bounded time or count,
// and every request is recorded (when it started and ended, its status,
// which pod and color answered, and how it failed). Summarize reads the
// records of a time window: requests, failures by kind, p50/p99 latency,
// and the first and last request each color served.
//
// It is made for the loop bed's data plane (internal/testbed/loop): the
// clients dial from the node's network namespace (Config.Dial =
// DataNode.DialFrom) to a Service's ClusterIP, through kube-proxy, or to
// the bed's Gateway (Traefik; Config.Host and Config.Header pick the
// HTTPRoute rule), and the pod servers say who they are in the X-Pod and
// X-Color headers. It sends
// traffic only where Dial connects; it stops by itself.
//
// Two modes: KeepAlive clients reuse one connection as long as the server
// keeps it open (Go's http.Transport, which, like browsers, retries an
// idempotent request once on a new connection when a kept-alive one turns
// out closed: Record.Retried says when that happened); NewConnection
// clients open a connection per request.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"
)

// MaxDuration bounds every run.
const MaxDuration = 15 * time.Minute

// Mode is how clients use connections.
type Mode int

const (
	// KeepAlive reuses a connection for as long as the server keeps it.
	KeepAlive Mode = iota
	// NewConnection opens a connection for every request.
	NewConnection
)

func (m Mode) String() string {
	if m == NewConnection {
		return "new-connection"
	}
	return "keep-alive"
}

// Response headers that name the pod, its namespace and its color that
// served a request (those of internal/testbed/loop's pod servers).
const (
	HeaderPod       = "X-Pod"
	HeaderNamespace = "X-Pod-Namespace"
	HeaderColor     = "X-Color"
)

// Config is a load run.
type Config struct {
	// URL is requested by every client, e.g. http://10.96.12.34:80/ (a
	// literal IP address).
	URL string
	// Clients is the number of clients (default 1).
	Clients int
	// Mode is how they use connections.
	Mode Mode
	// Duration bounds the run (default and at most MaxDuration).
	Duration time.Duration
	// Count, when > 0, ends the run after that many requests in all.
	Count int
	// Pause is each client's wait between two requests (default 10 ms).
	Pause time.Duration
	// Timeout bounds each request (default 5 s).
	Timeout time.Duration
	// Method is the request method (default GET).
	Method string
	// Host, when set, is the requests' Host header (e.g. the hostname an
	// HTTPRoute matches, with URL naming the Gateway's address).
	Host string
	// Header is added to every request (e.g. the header of a route's
	// testers' rule).
	Header http.Header
	// Dial opens client number client's connections; nil dials from this
	// process's network namespace.
	Dial func(ctx context.Context, client int, network, addr string) (net.Conn, error)
	// ClientOffset is added to client numbers passed to Dial (so that two
	// runs side by side get distinct source addresses).
	ClientOffset int
}

// Kind is how a request failed.
type Kind string

// The kinds of failure; a request that got a 2xx, 3xx or 4xx answer from a
// pod server has Kind "".
const (
	OK          Kind = ""
	Refused     Kind = "refused"     // connection refused
	Reset       Kind = "reset"       // connection reset (or broken pipe)
	Closed      Kind = "closed"      // the connection closed before an answer (EOF)
	Timeout     Kind = "timeout"     // no answer within Config.Timeout
	Unreachable Kind = "unreachable" // no route to the address
	Status5xx   Kind = "5xx"         // an answer with a 5xx status
	Foreign     Kind = "foreign"     // an answer without the pod server's headers
	Other       Kind = "other"
)

// Record is one request.
type Record struct {
	Client     int
	Start, End time.Time
	Status     int
	Pod, Color string
	// Namespace is the served pod's namespace.
	Namespace string
	Err       Kind
	ErrText   string
	// Reused is true when the request went over a connection that an
	// earlier request had used.
	Reused bool
	// Retried is true when the client retried the request on another
	// connection (the kept-alive one was closed by the server).
	Retried bool
}

// Failed reports whether the request failed.
func (r Record) Failed() bool { return r.Err != OK }

// Latency is End - Start.
func (r Record) Latency() time.Duration { return r.End.Sub(r.Start) }

// Run is a load run in progress.
type Run struct {
	cfg     Config
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	recs    []Record
	count   int
	started time.Time
}

// Start starts the clients; they stop after cfg.Duration, after cfg.Count
// requests, when ctx ends or at Stop.
func Start(ctx context.Context, cfg Config) (*Run, error) {
	if cfg.URL == "" {
		return nil, errors.New("load: no URL")
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxDuration {
		cfg.Duration = MaxDuration
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 10 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	if _, err := http.NewRequest(cfg.Method, cfg.URL, nil); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	r := &Run{cfg: cfg, cancel: cancel, done: make(chan struct{}), started: time.Now()}
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Go(func() { r.client(ctx, i) })
	}
	go func() {
		wg.Wait()
		cancel()
		close(r.done)
	}()
	return r, nil
}

func (r *Run) client(ctx context.Context, n int) {
	tr := &http.Transport{
		DisableKeepAlives:   r.cfg.Mode == NewConnection,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if dial := r.cfg.Dial; dial != nil {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(ctx, n+r.cfg.ClientOffset, network, addr)
		}
	} else {
		d := &net.Dialer{}
		tr.DialContext = d.DialContext
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: r.cfg.Timeout}
	for ctx.Err() == nil {
		if !r.reserve() {
			return
		}
		rec := r.one(ctx, hc, n)
		if ctx.Err() != nil && rec.Failed() {
			return // the run's end cut it short: not the server's failure
		}
		r.mu.Lock()
		r.recs = append(r.recs, rec)
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.cfg.Pause):
		}
	}
}

// reserve counts one more request, false when Count is reached.
func (r *Run) reserve() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Count > 0 && r.count >= r.cfg.Count {
		return false
	}
	r.count++
	return true
}

func (r *Run) one(ctx context.Context, hc *http.Client, n int) Record {
	rec := Record{Client: n, Start: time.Now()}
	conns := 0
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		conns++
		rec.Reused = info.Reused
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), r.cfg.Method, r.cfg.URL, nil)
	req.Host = r.cfg.Host
	for k, v := range r.cfg.Header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rec.End = time.Now()
	rec.Retried = conns > 1
	if err != nil {
		rec.Err, rec.ErrText = classify(err), err.Error()
		return rec
	}
	rec.Status = resp.StatusCode
	rec.Pod, rec.Color, rec.Namespace = resp.Header.Get(HeaderPod), resp.Header.Get(HeaderColor), resp.Header.Get(HeaderNamespace)
	switch {
	case resp.StatusCode >= 500:
		rec.Err, rec.ErrText = Status5xx, resp.Status
	case rec.Pod == "":
		rec.Err, rec.ErrText = Foreign, "answer without "+HeaderPod+": "+resp.Status
	}
	return rec
}

func classify(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Closed
	}
	return Other
}

// URL is the URL the clients request.
func (r *Run) URL() string { return r.cfg.URL }

// Stop ends the run and waits for the clients; it returns every record.
func (r *Run) Stop() []Record {
	r.cancel()
	<-r.done
	return r.Records()
}

// Wait waits until the run ends by itself; it returns every record.
func (r *Run) Wait() []Record {
	<-r.done
	return r.Records()
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Records returns the records so far, by start time.
func (r *Run) Records() []Record {
	r.mu.Lock()
	recs := slices.Clone(r.recs)
	r.mu.Unlock()
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Start.Before(recs[j].Start) })
	return recs
}

// Window summarizes the requests that started in [From, To).
type Window struct {
	From, To time.Time
	Requests int
	Failed   int
	// Retried counts requests the client had to retry on a new
	// connection (not failed).
	Retried int
	Errors  map[Kind]int
	// P50 and P99 are latencies over every request of the window.
	P50, P99 time.Duration
	// First and Last are the starts of the first and the last request
	// each color served.
	First, Last map[string]time.Time
	// Pods counts requests by the pod that served them.
	Pods map[string]int
	// Samples are up to 5 failed requests.
	Samples []Record
}

// Summarize summarizes the records that started in [from, to); a zero
// from or to is unbounded.
func Summarize(recs []Record, from, to time.Time) Window {
	w := Window{From: from, To: to, Errors: map[Kind]int{}, First: map[string]time.Time{}, Last: map[string]time.Time{}, Pods: map[string]int{}}
	var lat []time.Duration
	for _, r := range recs {
		if (!from.IsZero() && r.Start.Before(from)) || (!to.IsZero() && !r.Start.Before(to)) {
			continue
		}
		w.Requests++
		lat = append(lat, r.Latency())
		if r.Retried {
			w.Retried++
		}
		if r.Failed() {
			w.Failed++
			w.Errors[r.Err]++
			if len(w.Samples) < 5 {
				w.Samples = append(w.Samples, r)
			}
			continue
		}
		if f, ok := w.First[r.Color]; !ok || r.Start.Before(f) {
			w.First[r.Color] = r.Start
		}
		if l, ok := w.Last[r.Color]; !ok || r.Start.After(l) {
			w.Last[r.Color] = r.Start
		}
		w.Pods[r.Pod]++
	}
	w.P50, w.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return w
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1)*p + 0.5)
	return d[i]
}

// Split returns the records for which keep returns true.
func Split(recs []Record, keep func(Record) bool) []Record {
	var out []Record
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// String is one line: requests, failures by kind, latencies, and the
// colors served.
func (w Window) String() string {
	s := fmt.Sprintf("%d requests, %d failed", w.Requests, w.Failed)
	if w.Failed > 0 {
		s += fmt.Sprintf(" %v", w.Errors)
	}
	if w.Retried > 0 {
		s += fmt.Sprintf(", %d retried on a new connection", w.Retried)
	}
	s += fmt.Sprintf(", p50 %s p99 %s", w.P50.Round(10*time.Microsecond), w.P99.Round(10*time.Microsecond))
	colors := make([]string, 0, len(w.First))
	for c := range w.First {
		colors = append(colors, c)
	}
	slices.Sort(colors)
	for _, c := range colors {
		s += fmt.Sprintf(", %s %s..%s", c, w.First[c].Format("15:04:05.000"), w.Last[c].Format("15:04:05.000"))
	}
	return s
}
