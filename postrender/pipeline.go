package postrender

import (
	"context"
	"errors"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// The post-renderer in one place: postRenderer lists the steps of a run,
// the filters that transform the chart's objects and the generators that
// add objects; Run runs it.

// A step is one stage of a post-render, over the whole stream. fail
// gives its errors their exit code.
type step struct {
	do   func(ctx context.Context, r *run) error
	fail func(source string, err error) error
}

// A filter is one concern of the post-renderer: which of the chart's
// objects it transforms, and what each becomes (as a kyaml filter maps
// objects to objects). The write step applies it to each object of its
// kinds that changes; the check step asks it first.
type filter struct {
	kinds []string
	// changes reports whether the filter transforms o; it is never asked
	// about a Helm hook, which passes through.
	changes func(r *run, o *object) bool
	// check, if set, refuses o before anything is written.
	check func(r *run, o *object) error
	// adds, if set, names the objects of o's kind that the filter adds
	// beside o; the chart must not have them already.
	adds func(o *object) []string
	// apply returns what o becomes.
	apply func(ctx context.Context, r *run, o *object) ([]*kyaml.RNode, error)
}

// A generator adds objects that the chart does not have, after the
// chart's own.
type generator func(r *run) []render.Object

// pipeline is a post-renderer: its steps run in order, and the write step
// applies its filters to the chart's objects and appends what its
// generators add.
type pipeline struct {
	steps      []step
	filters    []filter
	generators []generator
}

// postRenderer is the pipeline of `bgrender postrender`.
var postRenderer = pipeline{
	steps: []step{
		{readStream, inputError},      // split, parse and index the chart's objects (read.go)
		{checkNamespaces, inputError}, // no guessing the release namespace (check.go)
		{checkWeights, inputError},    // what --weight cannot split (weights.go)
		{checkObjects, inputError},    // what each filter refuses, names taken (check.go)
		{chooseColors, runtimeError},  // the active color and the one that gets the render (colors.go)
		{findAdoptions, withCode},     // Deployments that ran without colors (carry.go)
		{checkKept, withCode},         // the live pods still match their Services (kept.go)
		{writeStream, inputError},     // filters and generators, then the bytes (write.go)
	},
	filters: []filter{
		deployments, // D → D-blue, D-green (deployments.go)
		services,    // S → S on the active color, S-preview on the idle one (services.go)
		autoscalers, // an HPA of D → one per color (percolor.go)
		budgets,     // a PDB of D's pods → one per color (percolor.go)
		routes,      // --weight: a route's rule to S → S-blue and S-green, weighted (routes.go)
	},
	generators: []generator{
		networkPolicies, // per-color isolation (networkpolicies.go)
		resourceQuota,   // both colors' usage plus headroom (quota.go)
	},
}

// Run post-renders a manifest stream. It returns the whole output or an
// error; it never returns part of the output.
func Run(ctx context.Context, in []byte, opts Options) ([]byte, error) {
	return postRenderer.process(ctx, in, opts)
}

// process runs the pipeline over a stream.
func (p pipeline) process(ctx context.Context, in []byte, opts Options) ([]byte, error) {
	if opts.ColorLabel == "" {
		opts.ColorLabel = spec.DefaultColorLabel
	}
	r := newRun(p, in, opts)
	for _, s := range p.steps {
		if err := s.do(ctx, r); err != nil {
			return nil, s.fail(r.source(), err)
		}
	}
	return r.out, nil
}

// run is one post-render's state, filled in by the steps in order.
type run struct {
	opts       Options
	filters    map[string]*filter // by kind
	generators []generator

	in, out  []byte
	chart    chart           // readStream
	pods     workloads       // readStream
	colors   colorPlan       // chooseColors
	prev     carried         // read from opts.Previous as the steps ask
	weighted map[string]bool // checkWeights: namespace/name of the Services split by --weight
	tally    usageTally      // writeStream, for the quota
}

func newRun(p pipeline, in []byte, opts Options) *run {
	r := &run{opts: opts, in: in, filters: map[string]*filter{}, generators: p.generators,
		pods: newWorkloads(), tally: newUsageTally()}
	for i := range p.filters {
		for _, kind := range p.filters[i].kinds {
			r.filters[kind] = &p.filters[i]
		}
	}
	return r
}

// source names the stream in error messages.
func (r *run) source() string {
	if r.opts.Source == "" {
		return "stdin"
	}
	return r.opts.Source
}

// changes reports whether the pipeline transforms an object.
func (r *run) changes(o *object) bool {
	if o.hook {
		return false
	}
	f := r.filters[o.kind]
	return f != nil && f.changes(r, o)
}

// inputError marks a problem with the manifests (exit code 2), named
// after their source, unless it already carries a code.
func inputError(source string, err error) error {
	var coded *exitcode.Error
	if errors.As(err, &coded) {
		return err
	}
	return exitcode.InvalidInput(fmt.Errorf("%s: %w", source, err))
}

// runtimeError marks a failure to read the previous release (exit code 1).
func runtimeError(_ string, err error) error {
	var coded *exitcode.Error
	if errors.As(err, &coded) {
		return err
	}
	return &exitcode.Error{Code: exitcode.Failure, Err: err}
}

// withCode passes on the errors of a step that gives each its exit code.
func withCode(_ string, err error) error { return err }
