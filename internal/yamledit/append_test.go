package yamledit

import (
	"errors"
	"testing"
)

func TestAppendItem(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"after the last item, as indented": {
			"resources:\n  - ../base\npatches:\n  # production's own\n  - path: a.yaml\n    target:\n      kind: Deployment\n# the end\n",
			"resources:\n  - ../base\npatches:\n  # production's own\n  - path: a.yaml\n    target:\n      kind: Deployment\n  - path: b.yaml\n# the end\n",
		},
		"an inline patch's block scalar": {
			"patches:\n- patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n  target:\n    kind: Deployment\nimages: []\n",
			"patches:\n- patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n  target:\n    kind: Deployment\n- path: b.yaml\nimages: []\n",
		},
		"no key: added at the end": {
			"resources:\n  - ../base\n",
			"resources:\n  - ../base\npatches:\n  - path: b.yaml\n",
		},
		"no final newline": {
			"resources:\n  - ../base",
			"resources:\n  - ../base\npatches:\n  - path: b.yaml\n",
		},
		"CRLF": {
			"patches:\r\n  - path: a.yaml\r\n",
			"patches:\r\n  - path: a.yaml\r\n  - path: b.yaml\r\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.AppendItem(0, "patches", "path: b.yaml"); err != nil {
				t.Fatal(err)
			}
			if got := string(f.Bytes()); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	f, err := Parse([]byte("patches: [{path: a.yaml}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AppendItem(0, "patches", "path: b.yaml"); !errors.Is(err, ErrCannotInsert) {
		t.Errorf("a flow-style list: %v, want ErrCannotInsert", err)
	}
}
