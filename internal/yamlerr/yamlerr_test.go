package yamlerr_test

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/bgrender/bgrender/internal/yamlerr"
)

func TestParseLines(t *testing.T) {
	for _, tt := range []struct {
		in   string
		line int
	}{
		{"a: 1\nb: {c: [}\n", 2},            // parser error
		{"---\na: 1\nb: 2\nc: {d: [}\n", 4}, // parser error in a later line
		{"a: 1\nb:\n\tc: 1\n", 3},           // scanner error: tab
		{"a: 1\nb: \"x\n", 2},               // scanner error: unterminated quote
		{"a:\n  - b\n c: d\n", 3},           // bad indentation
	} {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(tt.in), &n)
		if err == nil {
			t.Fatalf("%q parsed", tt.in)
		}
		if line, msg := yamlerr.Parse(err); line != tt.line {
			t.Errorf("%q: line %d (%s), want %d", tt.in, line, msg, tt.line)
		}
	}
}
