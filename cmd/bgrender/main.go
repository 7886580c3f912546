// Command bgrender renders, post-renders and promotes blue/green releases
// for Kubernetes without an in-cluster controller.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
