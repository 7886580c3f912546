package yamlerr_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

// duplicates parses every document of in and lists its duplicate keys as
// "line: path (first)", with the document's 1-based index when in has
// several.
func duplicates(t *testing.T, in string) []string {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(in))
	var out []string
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		for _, d := range yamlerr.DuplicateKeys(&n) {
			out = append(out, fmt.Sprintf("doc %d line %d: %s (first %d)", doc, d.Line, d.Path, d.First))
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"none", "a: 1\nb: {c: 2, d: [1, 2]}\n", nil},
		{"top level", "a: 1\nb: 2\na: 3\n", []string{"doc 1 line 3: a (first 1)"}},
		{"nested", "metadata:\n  name: web\n  labels: {app: web}\n  name: api\n", []string{"doc 1 line 4: metadata.name (first 2)"}},
		{"flow style", "spec: {selector: {app: web, app: api}}\n", []string{"doc 1 line 1: spec.selector.app (first 1)"}},
		{"flow style over lines", "spec: {\n  a: 1,\n  a: 2\n}\n", []string{"doc 1 line 3: spec.a (first 2)"}},
		{"sequence of mappings", "ports:\n  - name: http\n    port: 80\n  - name: https\n    port: 443\n    name: tls\n", []string{"doc 1 line 6: ports[1].name (first 4)"}},
		{"same key in sibling mappings is fine", "a: {x: 1}\nb: {x: 1}\nc: [{x: 1}, {x: 2}]\n", nil},
		{"key that is not a plain word", "metadata:\n  labels:\n    app.kubernetes.io/name: a\n    app.kubernetes.io/name: b\n", []string{`doc 1 line 4: metadata.labels["app.kubernetes.io/name"] (first 3)`}},
		{"three times, each against the first", "a: 1\na: 2\na: 3\n", []string{"doc 1 line 2: a (first 1)", "doc 1 line 3: a (first 1)"}},
		{"quoting does not make another key", "a: 1\n'a': 2\n\"1\": x\n1: y\n", []string{"doc 1 line 2: a (first 1)", "doc 1 line 4: 1 (first 3)"}},
		{"every level reported", "a: {b: 1, b: 2}\na: 3\n", []string{"doc 1 line 1: a.b (first 1)", "doc 1 line 2: a (first 1)"}},
		{"two files concatenated", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
			[]string{"doc 1 line 4: apiVersion (first 1)", "doc 1 line 5: kind (first 2)", "doc 1 line 6: metadata (first 3)"}},
		{"multi-document: each document on its own", "a: 1\n---\na: 1\nb: 2\n---\nb: 1\nb: 2\n", []string{"doc 3 line 7: b (first 6)"}},
		{"a merged key overridden is no duplicate", "base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  a: 3\n", nil},
		{"a merge of several is no duplicate", "x: &x {a: 1}\ny: &y {a: 2}\nuse:\n  <<: [*x, *y]\n  a: 3\n", nil},
		{"two merge keys are", "x: &x {a: 1}\ny: &y {b: 2}\nuse:\n  <<: *x\n  <<: *y\n", []string{`doc 1 line 5: use["<<"] (first 4)`}},
		{"an anchored mapping is checked once, where written", "x: &x {a: 1, a: 2}\ny: *x\nz: *x\n", []string{"doc 1 line 1: x.a (first 1)"}},
		{"large mapping", largeMapping(40, 17), []string{"doc 1 line 41: k17 (first 18)"}},
		{"document that is a list", "- {a: 1, a: 2}\n", []string{"doc 1 line 1: [0].a (first 1)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := duplicates(t, tt.in)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// largeMapping writes keys k0..k(n-1) and then kdup again, past the size
// at which mappings are compared pairwise.
func largeMapping(n, dup int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "k%d: %d\n", i, i)
	}
	fmt.Fprintf(&b, "k%d: again\n", dup)
	return b.String()
}

// TestDuplicateKeysAgreesWithYAMLv3 holds the check to yaml.v3's own rule
// where yaml.v3 has one (decoding into a map): the same inputs refused.
func TestDuplicateKeysAgreesWithYAMLv3(t *testing.T) {
	for _, in := range []string{
		"a: 1\na: 2\n",
		"a: {b: [{c: 1, c: 2}]}\n",
		"x: &x {a: 1}\nuse: {<<: *x, a: 2}\n",
		"x: &x {a: 1}\ny: &y {b: 1}\nuse:\n  <<: *x\n  <<: *y\n",
		"1: a\n\"1\": b\n",
		"a: 1\nb: 2\n",
	} {
		var m map[string]any
		v3err := yaml.Unmarshal([]byte(in), &m)
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(in), &n); err != nil {
			t.Fatal(err)
		}
		if ours := yamlerr.CheckKeys(&n); (ours == nil) != (v3err == nil) {
			t.Errorf("%q: yaml.v3 says %v, DuplicateKeys says %v", in, v3err, ours)
		}
	}
}

func TestDuplicateKeyMessage(t *testing.T) {
	err := yamlerr.CheckStream("service.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  name: api\n"))
	if want := "service.yaml:5: metadata.name: duplicate key (first defined on line 4)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	var dup *yamlerr.DuplicateKeyError
	if !errors.As(err, &dup) || dup.Line != 5 || dup.First != 4 {
		t.Errorf("not a *DuplicateKeyError with both lines: %#v", err)
	}
	err = yamlerr.CheckStream("two.yaml", []byte("a: 1\n---\napiVersion: v1\nkind: A\napiVersion: v1\n"))
	if want := "two.yaml:5: apiVersion: duplicate key (first defined on line 3); two documents without a --- line between them?"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	err = yamlerr.CheckStream("bad.yaml", []byte("a: 1\nb: {c: [}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:2: invalid YAML: ") {
		t.Errorf("syntax error: got %v", err)
	}
	if err := yamlerr.CheckStream("ok.yaml", []byte("a: 1\n---\na: 1\n")); err != nil {
		t.Errorf("ok.yaml: %v", err)
	}
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader([]byte("x: {y: 1, y: 2}\n"))).Decode(&n); err != nil {
		t.Fatal(err)
	}
	if want := "line 1: x.y: duplicate key (first defined on line 1)"; yamlerr.CheckKeys(&n).Error() != want {
		t.Errorf("without a file: got %v, want %s", yamlerr.CheckKeys(&n), want)
	}
}
