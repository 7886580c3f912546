package postrender_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/benchdata"
	"github.com/bgrender/bgrender/postrender"
)

// BenchmarkRun measures post-rendering in-process; bench/postrender times
// the process against kustomize and a bare kyaml read-and-write.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{100, 1000} {
		in := benchdata.HelmStream(n)
		b.Run(fmt.Sprintf("%d-docs", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := postrender.Run(context.Background(), in, postrender.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
