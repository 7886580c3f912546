package gate_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

func TestRedactURL(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":             {"http://prometheus:9090", "http://prometheus:9090"},
		"password":          {"http://user:SEKRIT@prometheus:9090/x", "http://user:***@prometheus:9090/x"},
		"user only":         {"https://user@host/", "https://user@host/"},
		"query values":      {"http://h/health?token=SEKRIT&a=1", "http://h/health?token=***&a=***"},
		"both":              {"https://u:p%40ss@h/p?access_token=SEKRIT#frag", "https://u:***@h/p?access_token=***#frag"},
		"bare query":        {"http://h/?SEKRIT", "http://h/?***"},
		"not a URL":         {"not a url", "not a url"},
		"unparsable":        {"http://u:SEKRIT@h:bad port/?token=SEKRIT", "http://u:***@h:bad port/?token=***"},
		"unparsable escape": {"http://u:SEK%zzRIT@h/?t=SEKRIT", "http://u:***@h/?t=***"},
	}
	for name, tt := range tests {
		if got := gate.RedactURL(tt.in); got != tt.want {
			t.Errorf("%s: RedactURL(%q) = %q, want %q", name, tt.in, got, tt.want)
		}
	}
}

// TestGatesPrintNoSecrets runs the health, warm-up and error-rate gates
// against URLs with a password and a token in the query, on a port where
// nothing listens, and checks that neither appears in any message or
// error (net/http's errors name the URL).
func TestGatesPrintNoSecrets(t *testing.T) {
	const secretURL = "http://user:SEKRITPASS@127.0.0.1:1/p?token=SEKRITQ"
	var said []string
	c := gate.Checks{
		HealthURL: secretURL, HealthAttempts: 2, HealthBackoff: time.Millisecond,
		Warm:     []string{"/w?key=SEKRITW"},
		Progress: func(m string) { said = append(said, m) },
	}
	err := c.Run(context.Background(), gate.Subject{App: "web", Color: "green"})
	if exitcode.Of(err) != exitcode.Refused {
		t.Fatalf("health gate on a closed port: %v (exit %d), want a refusal", err, exitcode.Of(err))
	}
	all := strings.Join(said, "\n") + "\n" + err.Error()

	warm := gate.Warm{Paths: []string{"/w?key=SEKRITW"}}
	if warm.Target, err = gate.Direct(secretURL); err != nil {
		t.Fatal(err)
	}
	err = warm.Run(context.Background())
	if exitcode.Of(err) != exitcode.Refused {
		t.Fatalf("warm-up on a closed port: %v, want a refusal", err)
	}
	all += "\n" + err.Error()

	_, err = gate.ErrorRate{URL: secretURL, Query: "up", Max: 1, Attempts: 1}.Measure(context.Background())
	if err == nil {
		t.Fatal("a query to a closed port succeeded")
	}
	all += "\n" + err.Error()
	_, err = gate.Direct("http://user:SEKRITPASS@/no-host?token=SEKRITQ")
	all += "\n" + err.Error()

	for _, secret := range []string{"SEKRITPASS", "SEKRITQ", "SEKRITW"} {
		if strings.Contains(all, secret) {
			t.Errorf("the gates printed %s:\n%s", secret, all)
		}
	}
	for _, want := range []string{"GET http://user:***@127.0.0.1:1/p?token=***", "query Prometheus at http://user:***@127.0.0.1:1/p?token=***"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
}

func TestValidate(t *testing.T) {
	prom := "http://prometheus:9090"
	tests := map[string]struct {
		c    gate.Checks
		want string // "" for valid
	}{
		"defaults":               {gate.Checks{RequireRollout: true}, ""},
		"error rate":             {gate.Checks{PrometheusURL: prom, MaxErrorRate: 1}, ""},
		"100 percent":            {gate.Checks{PrometheusURL: prom, MaxErrorRate: 100}, ""},
		"NaN":                    {gate.Checks{PrometheusURL: prom, MaxErrorRate: math.NaN()}, "--max-error-rate NaN"},
		"Inf":                    {gate.Checks{PrometheusURL: prom, MaxErrorRate: math.Inf(1)}, "--max-error-rate +Inf"},
		"NaN without prometheus": {gate.Checks{MaxErrorRate: math.NaN()}, "--max-error-rate NaN"},
		"negative":               {gate.Checks{MaxErrorRate: -1}, "--max-error-rate -1"},
		"over 100":               {gate.Checks{PrometheusURL: prom, MaxErrorRate: 100.5}, "--max-error-rate 100.5"},
		"zero":                   {gate.Checks{PrometheusURL: prom}, "needs --max-error-rate"},
		"relative URL":           {gate.Checks{PrometheusURL: "not a url", MaxErrorRate: 1}, `--prometheus-url "not a url": want an absolute http or https URL`},
		"ftp URL":                {gate.Checks{PrometheusURL: "ftp://h/", MaxErrorRate: 1}, "--prometheus-url"},
		"secret in a bad URL":    {gate.Checks{PrometheusURL: "htp://u:SEKRIT@h/?t=SEKRIT", MaxErrorRate: 1}, `"htp://u:***@h/?t=***"`},
		"bad health URL":         {gate.Checks{HealthURL: "/health"}, "--health-url"},
		"negative attempts":      {gate.Checks{HealthAttempts: -1}, "--health-attempts -1"},
		"negative warm requests": {gate.Checks{WarmRequests: -1}, "--warm-requests -1"},
		"negative window":        {gate.Checks{Window: -time.Minute}, "--window -1m0s"},
		"negative timeout":       {gate.Checks{Timeout: -time.Second}, "negative"},
	}
	for name, tt := range tests {
		err := tt.c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", name, err, tt.want)
		}
	}
}

// TestRolloutGateTimeoutBoundsFirstList: the gate's timeout bounds its
// first list request too, and an API server that never answered is a
// failure (exit 1), not a refusal: the gate saw no Deployment.
func TestRolloutGateTimeoutBoundsFirstList(t *testing.T) {
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: kubetest.SilentServer(t)}) // no per-request timeout
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = gate.RolloutGate{Client: dyn, Namespace: "default", Deployment: "web-green", Timeout: time.Second}.Run(context.Background())
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the gate took %s with a 1s timeout", took)
	}
	var refused *gate.Refused
	if err == nil || exitcode.Of(err) != exitcode.Failure || errors.As(err, &refused) || !strings.Contains(err.Error(), "did not answer within 1s") {
		t.Fatalf("gate against a hanging API server: %v (exit %d), want a failure that says it had no answer", err, exitcode.Of(err))
	}
}

// TestHealthGateHidesEchoedSecrets: a server that echoes the request (its
// credentials and query) back in an error body does not make the gate
// print them.
func TestHealthGateHidesEchoedSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "you sent %s:%s and %s", u, p, r.URL.RawQuery)
	}))
	defer srv.Close()
	target, err := gate.Direct(strings.Replace(srv.URL, "http://", "http://user:SEKRITPW@", 1) + "/?token=SEKRITQ")
	if err != nil {
		t.Fatal(err)
	}
	err = gate.Health{Target: target, Path: "/h", Attempts: 1}.Run(context.Background())
	if err == nil || strings.Contains(err.Error(), "SEKRIT") || !strings.Contains(err.Error(), "you sent user:***") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedactText(t *testing.T) {
	got := gate.RedactText(`Get "https://bot:hunter22@k8s.example:6443/api?token=abc123": dial tcp: refused; see https://docs.example/x?`)
	for _, secret := range []string{"hunter22", "abc123"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q shows %s", got, secret)
		}
	}
	if !strings.Contains(got, "https://bot:***@k8s.example:6443/api?token=***") || !strings.Contains(got, "dial tcp: refused") {
		t.Errorf("RedactText = %q", got)
	}
}
