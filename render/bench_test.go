package render_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// BenchmarkRender measures the whole path of `bgrender render`: decode,
// default, validate, render and encode YAML.
func BenchmarkRender(b *testing.B) {
	seedSpec, err := os.ReadFile("../examples/seed/app.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var many bytes.Buffer
	for i := range 100 {
		if i > 0 {
			many.WriteString("---\n")
		}
		many.WriteString(strings.Replace(string(seedSpec), "name: my-application", fmt.Sprintf("name: app-%03d", i), 1))
	}
	for _, bc := range []struct {
		name string
		data []byte
		apps int
	}{{"seed", seedSpec, 1}, {"100-apps", many.Bytes(), 100}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				apps, err := spec.Load("app.yaml", bc.data)
				if err != nil || len(apps) != bc.apps {
					b.Fatalf("load: %d apps, %v", len(apps), err)
				}
				if err := render.WriteYAML(io.Discard, render.Render(apps)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
