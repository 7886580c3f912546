// Command kyamlfloor is the floor for post-render speed: a bare kyaml
// read-and-write of a manifest stream from stdin to stdout, with no
// transformation. bench/postrender compares bgrender postrender with it.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

func main() {
	err := kio.Pipeline{
		Inputs:  []kio.Reader{&kio.ByteReader{Reader: os.Stdin, OmitReaderAnnotations: true}},
		Outputs: []kio.Writer{kio.ByteWriter{Writer: os.Stdout}},
	}.Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kyamlfloor:", err)
		os.Exit(1)
	}
}
