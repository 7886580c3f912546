package promote

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// Contract commits the contract migration of the live image
// (spec.migrations.contract) once the old color is retired: the Job
// <name>-contract-<hash>, and spec.migrations.contracted, the record that
// keeps every later flip off the images the contract retired.
type Contract struct {
	Target
}

// Run commits the contract.
func (a *Contract) Run(ctx context.Context) (*Result, error) {
	return a.run(ctx, "contract", 1, func(l layout, _ []*object.Commit) (*gitops.Change, error) {
		m, ok := l.(*managed)
		if !ok {
			return nil, exitcode.Invalidf("contract runs spec.migrations.contract of a bgrender-managed folder (%s); %s has none", SpecFile, a.Path)
		}
		st := m.state()
		if !m.app.Spec.Contracts() {
			return nil, exitcode.Invalidf("%s: spec.migrations.contract is not set: there is no contract to run", SpecFile)
		}
		live := st.Images[st.Active]
		c := &gitops.Change{From: string(st.Active), To: string(st.Active), Image: live,
			Summary: fmt.Sprintf("contract the schema for %s (Job %s)", live, st.ContractJob)}
		if ct := st.Contracted; ct != nil && ct.Image == live {
			if ct.Job == st.ContractJob {
				c.Done, c.Reason = true, fmt.Sprintf("%s's schema is already contracted for %s (Job %s); nothing to do", st.App, live, ct.Job)
				return c, nil
			}
			// The contract Job changed since (a fixed command, say): it
			// runs again, as a new Job.
			c.Summary = fmt.Sprintf("run the contract for %s again, as Job %s (was %s)", live, st.ContractJob, ct.Job)
		}
		if err := handingOver(st, "a contract"); err != nil {
			return nil, err
		}
		if err := retired(st); err != nil {
			return nil, err
		}
		return c, m.setContracted(live, st.ContractJob, retiredImages(st))
	})
}

// retired refuses a contract while the old version may still run: the
// idle color must have 0 replicas or run the live image.
func retired(st *State) error {
	idle := st.Idle()
	img, n := st.Images[idle], st.Replicas[idle]
	if img == st.Images[st.Active] || n == 0 {
		return nil
	}
	return exitcode.GateRefused(fmt.Errorf("%s still runs %s on %d replicas: a contract for %s drops what older versions read, so the idle color must be retired first: scale-idle --replicas 0, or deploy %s to it",
		idle, img, n, st.Images[st.Active], st.Images[st.Active]))
}

// retiredImages are the images a contract of the live image retires: the
// colors' other images and the previous contract's, then those it
// retired, newest first, at most spec.MaxRetiredImages.
func retiredImages(st *State) []string {
	live := st.Images[st.Active]
	var out []string
	add := func(img string) {
		if img != "" && img != live && !slices.Contains(out, img) && len(out) < spec.MaxRetiredImages {
			out = append(out, img)
		}
	}
	add(st.Images[st.Idle()])
	if ct := st.Contracted; ct != nil {
		add(ct.Image)
		for _, img := range ct.Retired {
			add(img)
		}
	}
	return out
}

// pastContract refuses to send traffic to color to when it runs an image
// that the last contract retired: that code may read what the contract
// dropped.
func pastContract(st *State, to spec.Color) error {
	ct := st.Contracted
	if ct == nil || !slices.Contains(ct.Retired, st.Images[to]) {
		return nil
	}
	job := ""
	if ct.Job != "" {
		job = ", Job " + ct.Job
	}
	return exitcode.GateRefused(&PastContractError{App: st.App, Color: to, Image: st.Images[to], Contracted: ct.Image,
		Msg: fmt.Sprintf("%s runs %s, which predates the contract of %s's schema for %s (spec.migrations.contracted%s): that code may read what the contract dropped; deploy a newer image to %s first, or use --force",
			to, st.Images[to], st.App, ct.Image, job, to)})
}

// PastContractError is a flip refused because the color runs an image
// that the last contract retired (guard reports it rather than rolling
// back).
type PastContractError struct {
	App        string
	Color      spec.Color
	Image      string
	Contracted string
	Msg        string
}

func (e *PastContractError) Error() string { return e.Msg }
