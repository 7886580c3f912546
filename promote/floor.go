package promote

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/yamledit"
	"github.com/bgrender/bgrender/spec"
)

// AnnotationConfiguredMin records, on a HorizontalPodAutoscaler whose
// minReplicas promote --match-capacity raised, the minReplicas the folder
// had before; RaiseFloor's restore puts it back.
const AnnotationConfiguredMin = "bgrender.io/configured-min-replicas"

// Floor is what a color is held at by the folder: its autoscaler's
// minReplicas, or its Deployment's replicas when no autoscaler scales it.
type Floor struct {
	// Autoscaler names the color's HorizontalPodAutoscaler ("" when none).
	Autoscaler string
	Min        int32
	// Configured is the minReplicas before a raise (0: not raised).
	Configured int32
}

// RaiseFloor raises a color's floor to Min before a flip (promote
// --match-capacity), or, with Restore, puts back the floor it raised.
// With an autoscaler the raise sets its minReplicas and records the one
// configured before (AnnotationConfiguredMin); the restore writes that
// back, and the autoscaler then scales the color down by its own rules
// (its scale-down stabilization, 5 minutes by default), never below what
// its metrics ask for. Without an autoscaler the raise sets the
// Deployment's replicas, and there is nothing to restore: lowering them
// would shrink the color that now carries the traffic.
type RaiseFloor struct {
	Target
	Color   spec.Color
	Min     int32
	Restore bool
}

// Run commits the raised (or restored) floor.
func (a *RaiseFloor) Run(ctx context.Context) (*Result, error) {
	action := "match-capacity"
	if a.Restore {
		action = "restore-floor"
	}
	return a.run(ctx, action, 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		st := l.state()
		f := st.Floors[a.Color]
		c := &gitops.Change{From: string(st.Active), To: string(a.Color)}
		if a.Restore {
			if f.Configured == 0 {
				c.Done, c.Reason = true, fmt.Sprintf("%s's floor on %s was not raised; nothing to restore", st.App, a.Color)
				return c, nil
			}
			c.Summary = fmt.Sprintf("restore %s's minReplicas to %d (HorizontalPodAutoscaler %s)", a.Color, f.Configured, f.Autoscaler)
			return c, l.setFloor(a.Color, f.Configured, 0)
		}
		if f.Min >= a.Min {
			c.Done, c.Reason = true, fmt.Sprintf("%s's floor on %s is %d already; nothing to raise", st.App, a.Color, f.Min)
			return c, nil
		}
		configured := f.Configured
		if configured == 0 {
			configured = f.Min
		}
		if f.Autoscaler == "" {
			configured = 0
			c.Summary = fmt.Sprintf("scale %s from %d to %d replicas to match the live color", a.Color, f.Min, a.Min)
		} else {
			c.Summary = fmt.Sprintf("raise %s's minReplicas from %d to %d to match the live color (HorizontalPodAutoscaler %s)", a.Color, f.Min, a.Min, f.Autoscaler)
		}
		c.Replicas = strconv.Itoa(int(a.Min))
		return c, l.setFloor(a.Color, a.Min, configured)
	})
}

// floors reads each color's floor in a plain folder.
func (p *plain) floors() {
	for c := range p.deployments {
		f := Floor{Min: p.st.Replicas[c]}
		if hpa := p.autoscalers[c]; hpa != nil {
			f.Autoscaler, f.Min = hpa.name, 1
			if n, err := strconv.ParseInt(yamledit.Scalar(hpa.node(), "spec", "minReplicas"), 10, 32); err == nil {
				f.Min = int32(n)
			}
			if n, err := strconv.ParseInt(yamledit.Scalar(hpa.node(), "metadata", "annotations", AnnotationConfiguredMin), 10, 32); err == nil {
				f.Configured = int32(n)
			}
			// What the folder holds the color at is the autoscaler's
			// floor, not the Deployment's replicas (it has none).
			p.st.Replicas[c] = f.Min
		}
		if p.st.Floors == nil {
			p.st.Floors = map[spec.Color]Floor{}
		}
		p.st.Floors[c] = f
	}
}

// setFloor sets color c's floor to n; configured > 0 records the floor to
// restore, 0 removes that record.
func (p *plain) setFloor(c spec.Color, n, configured int32) error {
	hpa := p.autoscalers[c]
	if hpa == nil {
		d, err := p.deployment(c)
		if err != nil {
			return err
		}
		_, err = d.file.y.SetInt(d.doc, []string{"spec", "replicas"}, int64(n))
		return d.file.wrap(err)
	}
	f := hpa.file.y
	if _, err := f.SetInt(hpa.doc, []string{"spec", "minReplicas"}, int64(n)); err != nil {
		return hpa.file.wrap(err)
	}
	annotation := []string{"metadata", "annotations", AnnotationConfiguredMin}
	var err error
	if configured > 0 {
		_, err = f.SetString(hpa.doc, annotation, strconv.Itoa(int(configured)))
	} else {
		_, err = f.Delete(hpa.doc, annotation)
	}
	if errors.Is(err, yamledit.ErrCannotInsert) {
		return exitcode.Invalidf("%s: metadata.annotations: %v (write metadata in block style, one key per line, for %s)", hpa.where(), err, AnnotationConfiguredMin)
	}
	return hpa.file.wrap(err)
}

// managedFloors reads each color's floor in a managed folder: with
// spec.autoscaling its HPA's minReplicas (Configured, when
// matchedMinReplicas raised it, the one configured under it), else its
// replicas.
func managedFloors(app *spec.BlueGreenApp) map[spec.Color]Floor {
	floors := map[spec.Color]Floor{}
	s := &app.Spec
	for _, c := range spec.Colors {
		f := Floor{Min: s.ReplicasOf(c)}
		if s.Autoscaled() {
			f.Autoscaler = app.Metadata.Name + "-" + string(c)
			if own := s.ColorSpecOf(c).Autoscaling; own != nil && own.MatchedMinReplicas != nil {
				f.Configured = s.ConfiguredMinReplicasOf(c)
			}
		}
		floors[c] = f
	}
	return floors
}

// setFloor raises color c's floor to n in the spec: with spec.autoscaling
// spec.<c>.autoscaling.matchedMinReplicas, which overrides the color's
// configured minReplicas and leaves it written where it is, so that the
// restore (configured 0) only deletes that one key. Without autoscaling,
// the idle color's replicas are spec.idleReplicas (what scale-idle sets);
// as in a plain folder, nothing is restored: after the flip, lowering
// them would shrink the color that carried the traffic.
func (m *managed) setFloor(c spec.Color, n, configured int32) error {
	s := &m.app.Spec
	if !s.Autoscaled() {
		if c == s.Active {
			return exitcode.Invalidf("%s: %s is live: its replicas are spec.replicas (or spec.%s.replicas), which --match-capacity does not lower or raise", SpecFile, c, c)
		}
		_, err := m.file.y.SetInt(0, []string{"spec", "idleReplicas"}, int64(n))
		return m.file.wrap(err)
	}
	key := []string{"spec", string(c), "autoscaling", "matchedMinReplicas"}
	if configured == 0 {
		_, err := m.file.y.Delete(0, key)
		return m.file.wrap(err)
	}
	if most := s.MaxReplicasOf(c); n > most {
		return exitcode.Invalidf("%s: spec.%s.autoscaling: the live color runs %d pods, more than %s's maxReplicas (%d): raise maxReplicas first, or promote without --match-capacity", SpecFile, c, n, c, most)
	}
	_, err := m.file.y.SetInt(0, key, int64(n))
	if errors.Is(err, yamledit.ErrCannotInsert) {
		return exitcode.Invalidf("%s: spec.%s: %v (write spec.%s in block style, one key per line, for autoscaling.matchedMinReplicas)", SpecFile, c, err, c)
	}
	return m.file.wrap(err)
}
