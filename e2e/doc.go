// Package e2e holds bgrender's end-to-end tests against real components:
// a real kube-apiserver and etcd (internal/testbed/kubetest). It has no non-test
// code; `make test` builds and installs the components it needs.
package e2e
