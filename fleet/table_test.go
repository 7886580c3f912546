package fleet

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// TestTable: the table says, for each target, the color its live Service
// selects as the run left it and the image that color runs.
func TestTable(t *testing.T) {
	w := &Wave{Name: "europe"}
	folder := func(active spec.Color, blue, green string) *promote.State {
		return &promote.State{Active: active, Images: map[spec.Color]string{spec.Blue: blue, spec.Green: green}}
	}
	member := func(name string, st *promote.State, phase, state string, flipped bool) *Member {
		return &Member{Target: &Target{Name: name, Path: "clusters/" + name, Context: name}, Wave: w, Folder: st, Phase: phase, State: state, flipped: flipped}
	}
	p := &Plan{Image: "shop:v3", Members: []*Member{
		member("before", folder(spec.Green, "shop:v1", "shop:v3"), Released, Released, true), // released by an earlier run
		member("now", folder(spec.Blue, "shop:v1", "shop:v2"), Pending, Released, true),      // released by this run
		member("back", folder(spec.Green, "shop:v1", "shop:v2"), Deployed, RolledBack, true), // flipped to blue, rolled back
		member("waiting", folder(spec.Green, "shop:v1", "shop:v2"), Pending, Pending, false), // not reached
		member("halted", folder(spec.Blue, "shop:v1", "shop:v2"), Pending, Halted, true),     // live, left to a person
		member("stopped", folder(spec.Blue, "shop:v1", "shop:v3"), Deployed, Refused, false), // a gate refused
	}}
	var b strings.Builder
	if err := p.Table(&b); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"before":  "green shop:v3 released",
		"now":     "green shop:v3 released",
		"back":    "green shop:v2 rolled back",
		"waiting": "green shop:v2 pending",
		"halted":  "green shop:v3 halted",
		"stopped": "blue shop:v1 refused",
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
		f := strings.Fields(line)
		if got := strings.Join(f[4:], " "); got != want[f[1]] {
			t.Errorf("%s: %q, want %q", f[1], got, want[f[1]])
		}
	}
}
