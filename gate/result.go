package gate

import (
	"errors"
	"fmt"
	"time"
)

// Result is what one gate measured on one color, against what it
// needed: the evidence a reviewer reads in a promotion's pull request
// and -o json carries. Checks.Run gives one to Checks.Record per gate it
// runs (or could not run to the end).
type Result struct {
	Gate  string `json:"gate"` // rollout, capacity, health, warm-up, error-rate
	Color string `json:"color"`
	// Outcome is Passed, Refused (the gate said no: exit 3), Failed (it
	// could not decide: the cluster or Prometheus unreachable) or Skipped
	// (nothing to measure, e.g. the capacity gate with no live color).
	Outcome string `json:"outcome"`
	// Measured is what the gate saw, in words; Threshold what it needed.
	Measured  string `json:"measured"`
	Threshold string `json:"threshold,omitempty"`
	// Readings are the error-rate gate's measurements, in order.
	Readings []Measurement `json:"readings,omitempty"`
	// Seconds is how long the gate took.
	Seconds float64 `json:"seconds"`
}

// Gate outcomes.
const (
	Passed      = "passed"
	RefusedGate = "refused"
	Failed      = "failed"
	Skipped     = "skipped"
)

// Measurement is one reading of the error-rate gate (or of guard's
// error-rate probe).
type Measurement struct {
	// Percent is the error rate read; NoData when the query had none.
	Percent float64 `json:"percent"`
	NoData  bool    `json:"noData,omitempty"`
	// Failed: at or above the maximum.
	Failed bool `json:"failed,omitempty"`
	// At is when it was read; guard records it (its readings are a
	// series a reviewer reads against the clock), the gates do not.
	At time.Time `json:"at,omitzero"`
}

// Names are the gates in the order Checks.Run runs them.
var Names = []string{"rollout", "capacity", "health", "warm-up", "error-rate"}

// outcome is the Outcome of a gate that returned err.
func outcome(err error) string {
	var r *Refused
	switch {
	case err == nil:
		return Passed
	case errors.As(err, &r):
		return RefusedGate
	}
	return Failed
}

// record gives the result of a gate that began at began and returned err
// to c.Record; the measured text of a gate that did not pass is its error.
func (c Checks) record(began time.Time, res Result, err error) {
	if c.Record == nil {
		return
	}
	res.Seconds = time.Since(began).Round(time.Millisecond).Seconds()
	if res.Outcome == "" {
		res.Outcome = outcome(err)
	}
	if err != nil {
		var r *Refused
		if errors.As(err, &r) {
			res.Measured = r.Reason
		} else {
			// Gate errors never carry a token (see RedactURL).
			res.Measured = err.Error()
		}
	}
	c.Record(res)
}

// errorRateThreshold says what the error-rate gate needs.
func (c Checks) errorRateThreshold(window time.Duration) string {
	if window <= 0 {
		window = time.Minute
	}
	t := fmt.Sprintf("under %s%% over %s", FormatPercent(c.MaxErrorRate), window)
	if n := max(c.Measurements, 1); n > 1 {
		t += fmt.Sprintf(", %d measurements, at most %d failed", n, c.FailureLimit)
	}
	if c.AllowNoData {
		t += ", no data passes"
	}
	return t
}
