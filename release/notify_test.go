package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/notify"
	"github.com/bgrender/bgrender/promote"
)

// receive serves a real webhook that collects the events posted to it.
func receive(t *testing.T) (url string, events func() []notify.Event) {
	var mu sync.Mutex
	var got []notify.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []notify.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]notify.Event(nil), got...)
	}
}

// shiftAction is a commit of a share of traffic, as a stepped promotion
// makes it, without a repository: the weight is the Shift's.
type shiftAction struct{ promote.Shift }

func (a *shiftAction) Run(context.Context) (*promote.Result, error) {
	return &promote.Result{Action: "shift", App: "demo", From: "blue", To: "green", Commit: "0123456789abcdef", Branch: "main"}, nil
}

// TestNotifyStepsAndRefusal: a stepped promotion tells each step with its
// weight and the gates read before it, and the refusal that stops it.
func TestNotifyStepsAndRefusal(t *testing.T) {
	url, events := receive(t)
	g := &Gates{Checks: &gate.Checks{}}
	var ran []string
	p := &Plan{Action: "promote", App: "demo", From: "blue", To: "green", Stepped: true}
	gates := func(pct float64) Step {
		return stepFunc(func(*Run) error {
			g.Results = append(g.Results, gate.Result{Gate: "error-rate", Color: "green", Outcome: gate.Passed, Readings: []gate.Measurement{{Percent: pct}}})
			return nil
		})
	}
	p.Add(gates(0.1), "step 1 (25%)", Return)
	p.Add(&Commit{Action: &shiftAction{promote.Shift{Weight: 25}}}, "step 1 (25%)", Return)
	p.Add(gates(0.2), "step 2 (50%)", Return)
	p.Add(&Commit{Action: &shiftAction{promote.Shift{Weight: 50}}}, "step 2 (50%)", Return)
	p.Add(&fake{name: "gates", ran: &ran, err: exitcode.GateRefused(errors.New("error rate 5% is not under the maximum 1%"))}, "step 3 (100%)", Stop)
	p.Add(&RunGates{Gates: g}, "", Stop) // never reached: it names the plan's gates

	var out, log bytes.Buffer
	e := env(&out, &log, false)
	e.Notify = &notify.Notifier{URLs: []string{url}}
	_, err := Runner{}.Execute(context.Background(), p, e, &promote.State{App: "demo", Namespace: "prod"})
	if !IsRefusal(err) {
		t.Fatalf("Execute = %v", err)
	}
	got := events()
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	for i, want := range []int32{25, 50} {
		ev := got[i]
		if ev.Event != "step" || ev.Action != "promote" || ev.Weight == nil || *ev.Weight != want || ev.Namespace != "prod" ||
			len(ev.Gates) != 1 || ev.Gates[0].Readings[0].Percent != []float64{0.1, 0.2}[i] || ev.Commit != "0123456789abcdef" {
			t.Errorf("step event %d = %+v", i+1, ev)
		}
	}
	if ev := got[2]; ev.Event != "refused" || ev.Reason != "step 3 (100%): error rate 5% is not under the maximum 1%" || ev.Text != "bgrender: promote demo refused: "+ev.Reason {
		t.Errorf("refusal event = %+v", ev)
	}
	if got[0].Text != "bgrender: promote demo: 25% to green (commit 0123456789ab on main)" {
		t.Errorf("text = %q", got[0].Text)
	}
}

// stepFunc is a step that runs a function.
type stepFunc func(*Run) error

func (f stepFunc) Kind() string                        { return "func" }
func (f stepFunc) Describe() string                    { return "a function" }
func (f stepFunc) Run(_ context.Context, r *Run) error { return f(r) }
