package yamledit_test

import (
	"testing"

	"github.com/bgrender/bgrender/internal/yamledit"
)

func TestSetFlowList(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"added": {
			"spec:\n  migrations:\n    expand: {args: [up]} # keep\n",
			"spec:\n  migrations:\n    contracted:\n      retired: [app:v1, \"a: b\"]\n    expand: {args: [up]} # keep\n",
		},
		"replaced": {
			"spec:\n  contracted:\n    retired: [old:1, 'old:0'] # newest first\n    image: app:v2\n",
			"spec:\n  contracted:\n    retired: [app:v1, \"a: b\"] # newest first\n    image: app:v2\n",
		},
		"empty replaced": {
			"spec:\n  contracted:\n    retired: []\n",
			"spec:\n  contracted:\n    retired: [app:v1, \"a: b\"]\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := yamledit.Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			path := []string{"spec", "contracted", "retired"}
			if name == "added" {
				path = []string{"spec", "migrations", "contracted", "retired"}
			}
			if err := f.SetFlowList(0, path, []string{"app:v1", "a: b"}); err != nil {
				t.Fatal(err)
			}
			if got := string(f.Bytes()); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	f, _ := yamledit.Parse([]byte("spec:\n  retired:\n    - a\n    - b\n"))
	if err := f.SetFlowList(0, []string{"spec", "retired"}, []string{"c"}); err == nil {
		t.Errorf("a block sequence was edited in place")
	}
}
