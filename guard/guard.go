package guard

import (
	"context"
	"errors"
	"fmt"
	"github.com/bgrender/bgrender/internal/exitcode"
	"time"
)

// Probe is one thing a Watch looks at. Check returns a description of the
// breach ("" when there is none), or an error when it could not tell.
type Probe struct {
	Name  string
	Check func(ctx context.Context) (breach string, err error)
}

// Watch runs its probes every Interval for For.
type Watch struct {
	For      time.Duration
	Interval time.Duration
	Probes   []Probe
	// Report, if set, is told about each error that is retried.
	Report func(msg string)
}

// Breach is what a Watch found: the probe and what it saw.
type Breach struct {
	Probe  string
	Reason string
}

func (b *Breach) Error() string { return b.Probe + ": " + b.Reason }

// Run probes until the window ends and returns the first breach, or nil
// when there was none. It returns an error when ctx ends first, or when a
// probe could not read even once in the whole window (the release was not
// watched, so it cannot be said to have held).
func (w Watch) Run(ctx context.Context) (*Breach, error) {
	if w.Interval <= 0 {
		return nil, fmt.Errorf("guard: interval %s: must be positive", w.Interval)
	}
	window, cancel := context.WithTimeout(ctx, w.For)
	defer cancel()
	read := make([]bool, len(w.Probes))
	last := make([]error, len(w.Probes))
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	for {
		for i, p := range w.Probes {
			breach, err := p.Check(window)
			switch {
			case window.Err() != nil:
				// The window ended during the probe.
			case exitcode.Of(err) == exitcode.Invalid:
				return nil, err // a bad query: retrying will not help
			case err != nil:
				last[i] = err
				if w.Report != nil {
					w.Report(fmt.Sprintf("%s: %v (retrying in %s)", p.Name, err, w.Interval))
				}
			case breach != "":
				return &Breach{Probe: p.Name, Reason: breach}, nil
			default:
				read[i] = true
			}
		}
		select {
		case <-window.Done():
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var errs []error
			for i, p := range w.Probes {
				if !read[i] {
					errs = append(errs, fmt.Errorf("%s could not be read in %s: %w", p.Name, w.For, cmpErr(last[i])))
				}
			}
			return nil, errors.Join(errs...)
		case <-tick.C:
		}
	}
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("the window ended before the first answer")
	}
	return err
}
