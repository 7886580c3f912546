package promote

import (
	"reflect"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/yamledit"
)

// The fields that an action changed in a built object, found by comparing
// the object before and after the plain folder's edits, as the paths a
// strategic-merge patch writes them at.

// step is one step of a path into an object: a mapping key, or (item) the
// item of a list of named items whose name is key, as a strategic-merge
// patch addresses a container.
type step struct {
	key  string
	item bool
}

// leaf is one changed field: its new value, or removed.
type leaf struct {
	path    []step
	value   any
	removed bool
}

func pathString(p []step) string {
	var b strings.Builder
	for _, s := range p {
		if s.item {
			b.WriteString("[name=" + s.key + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func equalValues(a, b any) bool { return reflect.DeepEqual(a, b) }

// diffValues lists the fields where b differs from a, with b's values. A
// list of named items (containers) is compared item by item; any other
// changed list is one field, replaced whole.
func diffValues(p []step, a, b any) []leaf {
	at := func(s step) []step { return append(slices.Clip(p), s) }
	switch bv := b.(type) {
	case map[string]any:
		av, ok := a.(map[string]any)
		if !ok {
			return []leaf{{path: p, value: b}}
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []leaf
		for _, k := range keys {
			ak, inA := av[k]
			bk, inB := bv[k]
			switch {
			case !inB:
				out = append(out, leaf{path: at(step{key: k}), removed: true})
			case !inA:
				out = append(out, leaf{path: at(step{key: k}), value: bk})
			default:
				out = append(out, diffValues(at(step{key: k}), ak, bk)...)
			}
		}
		return out
	case []any:
		av, ok := a.([]any)
		if ok && sameNames(av, bv) {
			var out []leaf
			for i := range bv {
				name := bv[i].(map[string]any)["name"].(string)
				out = append(out, diffValues(at(step{key: name, item: true}), av[i], bv[i])...)
			}
			return out
		}
	}
	if equalValues(a, b) {
		return nil
	}
	return []leaf{{path: p, value: b}}
}

// sameNames: two lists of the same named items, in the same order.
func sameNames(a, b []any) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	seen := map[string]bool{}
	for i := range a {
		am, ok1 := a[i].(map[string]any)
		bm, ok2 := b[i].(map[string]any)
		if !ok1 || !ok2 {
			return false
		}
		an, ok1 := am["name"].(string)
		bn, ok2 := bm["name"].(string)
		if !ok1 || !ok2 || an != bn || seen[an] {
			return false
		}
		seen[an] = true
	}
	return true
}

// valueAt returns the value at p in v (nil when there is none).
func valueAt(v any, p []step) any {
	for _, s := range p {
		if s.item {
			list, _ := v.([]any)
			v = nil
			for _, it := range list {
				if m, ok := it.(map[string]any); ok && m["name"] == s.key {
					v = m
				}
			}
			continue
		}
		m, _ := v.(map[string]any)
		v = m[s.key]
	}
	return v
}

// lookupStep follows one step in a node tree (nil when it is missing).
func lookupStep(n *yaml.Node, s step) *yaml.Node {
	if n == nil {
		return nil
	}
	if s.item {
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, it := range n.Content {
			if yamledit.Scalar(it, "name") == s.key {
				return it
			}
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	return yamledit.Lookup(n, s.key)
}
