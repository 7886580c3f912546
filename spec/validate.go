// Validate, the entry point of validation: the list of parts it checks, in
// order, and the validator that collects their problems.

package spec

import (
	"fmt"
	"sort"
)

// Validate checks a defaulted app and returns every problem, each located
// by file, line and field path.
func Validate(app *BlueGreenApp) ErrorList {
	v := &validator{app: app}
	for _, check := range parts {
		check(v)
	}
	v.sort()
	return v.errs
}

// parts are the checks Validate runs, in this order, one per part of the
// spec; the comment names the file that holds each. Validate then sorts the
// problems by line and field path, so this order shows only among problems
// at the same field.
var parts = []func(*validator){
	(*validator).metadata,         // metadata.go: name, namespace, labels, annotations
	(*validator).colors,           // colors.go: active, color label, images, replicas
	(*validator).pod,              // colors.go: container name, pod annotations, securityContext
	(*validator).ports,            // container.go: spec.ports
	(*validator).healthCheck,      // container.go: spec.healthCheck
	(*validator).env,              // container.go: spec.env, spec.envFrom
	(*validator).resources,        // container.go: spec.resources
	(*validator).service,          // service.go: spec.service
	(*validator).ingress,          // service.go: spec.ingress
	(*validator).networkPolicy,    // networkpolicy.go: spec.networkPolicy
	(*validator).quota,            // quota.go: spec.quota
	(*validator).drain,            // pods.go: spec.drain
	(*validator).maxSurge,         // pods.go: spec.maxSurge
	(*validator).disruptionBudget, // pods.go: spec.disruptionBudget
	(*validator).autoscaling,      // autoscaling.go, metrics.go: spec.autoscaling and each color's
	(*validator).schedulingAll,    // pods.go: scheduling of spec, then of each color
	(*validator).topologySpread,   // pods.go: spec.topologySpreadConstraints
	(*validator).traffic,          // traffic.go: spec.traffic (gateway or nginx)
	(*validator).specGates,        // gates.go: spec.gates
	(*validator).migrations,       // migrations.go: spec.migrations
}

// validator collects the problems of one app.
type validator struct {
	app  *BlueGreenApp
	errs ErrorList
}

// add records a problem at path, on the line of path or of its nearest
// parent written in the file.
func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{
		File: v.app.Source.File,
		Line: v.app.Source.LineOf(path),
		Path: path,
		Msg:  fmt.Sprintf(format, args...),
	})
}

// sort orders the problems by line, then field path.
func (v *validator) sort() {
	sort.SliceStable(v.errs, func(i, j int) bool {
		if v.errs[i].Line != v.errs[j].Line {
			return v.errs[i].Line < v.errs[j].Line
		}
		return v.errs[i].Path < v.errs[j].Path
	})
}

// nonNegative checks an optional count.
func (v *validator) nonNegative(path string, n *int32) {
	if n != nil && *n < 0 {
		v.add(path, "must not be negative, got %d", *n)
	}
}
