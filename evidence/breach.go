package evidence

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bgrender/bgrender/gate"
)

// Breach is what bgrender guard saw before it reacted (a rollback, or a
// shifted share returned): the color that breached, how, and the
// error-rate readings it took of that color. Guard's commit message and
// its pull request's body carry it, and so does its breach event.
type Breach struct {
	// Color breached; Probe (error rate, readiness) says how, Reason
	// what it saw, At when.
	Color  string    `json:"color"`
	Probe  string    `json:"probe"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// MaxPercent is the error rate at or above which guard reacts;
	// Window the rate window of its query; Interval the time between
	// two readings.
	MaxPercent float64 `json:"maxPercent"`
	Window     string  `json:"window"`
	Interval   string  `json:"interval"`
	// Readings are the last error-rate readings of Color, oldest first
	// (at most guard.KeepReadings of them); Taken counts all guard took.
	Readings []gate.Measurement `json:"readings"`
	Taken    int                `json:"taken"`
}

// Markdown writes the breach as a few lines, a table of the readings and
// a Mermaid line chart of them against the maximum, which GitHub, GitLab
// and Gitea draw. It has no heading: a line starting with "#" is a
// comment to git when a commit message is edited.
func (b *Breach) Markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "**Guard's breach**: %s breached at %s (%s probe): %s.\n\n", b.Color, b.At.UTC().Format(time.RFC3339), b.Probe, inline(b.Reason))
	if len(b.Readings) == 0 {
		fmt.Fprintf(&s, "Guard took no error-rate reading of %s.\n", b.Color)
		return s.String()
	}
	which := fmt.Sprintf("The %d error-rate readings", len(b.Readings))
	if b.Taken > len(b.Readings) {
		which = fmt.Sprintf("The last %d of the %d error-rate readings", len(b.Readings), b.Taken)
	}
	fmt.Fprintf(&s, "%s guard took of %s, every %s:\n\n", which, b.Color, b.Interval)
	s.WriteString("| time (UTC) | error rate | maximum | rate window |\n|---|---|---|---|\n")
	layout := b.clock()
	for _, m := range b.Readings {
		fmt.Fprintf(&s, "| %s | %s | %s%% | %s |\n", m.At.UTC().Format(layout), reading(m), gate.FormatPercent(b.MaxPercent), b.Window)
	}
	b.writeChart(&s, layout)
	return s.String()
}

// clock is the time layout of the readings: seconds, or milliseconds
// when two readings fall in the same second.
func (b *Breach) clock() string {
	for i := 1; i < len(b.Readings); i++ {
		if b.Readings[i].At.Truncate(time.Second).Equal(b.Readings[i-1].At.Truncate(time.Second)) {
			return "15:04:05.000"
		}
	}
	return "15:04:05"
}

func reading(m gate.Measurement) string {
	switch {
	case m.NoData:
		return "no data"
	case m.Failed:
		return "**" + gate.FormatPercent(m.Percent) + "%**"
	}
	return gate.FormatPercent(m.Percent) + "%"
}

// writeChart draws the readings that have a value (a reading without
// data is no point on the line) and the maximum as a second line, on a
// y axis from 0.
func (b *Breach) writeChart(s *strings.Builder, layout string) {
	var times, values, maxima []string
	top := b.MaxPercent
	for _, m := range b.Readings {
		if m.NoData {
			continue
		}
		times = append(times, `"`+m.At.UTC().Format(layout)+`"`)
		values = append(values, gate.FormatPercent(m.Percent))
		maxima = append(maxima, gate.FormatPercent(b.MaxPercent))
		top = max(top, m.Percent)
	}
	if len(values) == 0 {
		return
	}
	fmt.Fprintf(s, "\n```mermaid\nxychart-beta\n")
	fmt.Fprintf(s, "    title \"%s: error rate (%%) and the maximum %s%%\"\n", b.Color, gate.FormatPercent(b.MaxPercent))
	fmt.Fprintf(s, "    x-axis \"time (UTC)\" [%s]\n", strings.Join(times, ", "))
	fmt.Fprintf(s, "    y-axis \"error rate (%%)\" 0 --> %s\n", gate.FormatPercent(axisTop(top)))
	fmt.Fprintf(s, "    line [%s]\n    line [%s]\n```\n", strings.Join(values, ", "), strings.Join(maxima, ", "))
}

// axisTop leaves a little room above the highest value: a fifth more,
// rounded up to a whole percent (or to a tenth below 1%).
func axisTop(v float64) float64 {
	v *= 1.2
	switch {
	case v <= 0:
		return 1
	case v < 1:
		return math.Ceil(v*10) / 10
	}
	return math.Ceil(v)
}
