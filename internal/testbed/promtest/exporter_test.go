package promtest

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestExporterRates: a counter grows at its rate, a new rate changes the
// slope from then on without lowering the value, and the text format
// groups series under one TYPE line.
func TestExporterRates(t *testing.T) {
	now := time.Unix(1000, 0)
	e := NewExporter()
	e.now = func() time.Time { return now }
	e.SetRate(`req_total{code="200"}`, 10)
	e.SetRate(`req_total{code="500"}`, 1)
	now = now.Add(3 * time.Second)
	e.SetRate(`req_total{code="500"}`, 5)
	now = now.Add(2 * time.Second)

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := "# TYPE req_total counter\n" +
		"req_total{code=\"200\"} 50\n" +
		"req_total{code=\"500\"} 13\n" // 1/s for 3s, then 5/s for 2s
	if got := rec.Body.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
