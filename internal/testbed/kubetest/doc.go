// Package kubetest runs a real Kubernetes API server (kube-apiserver backed by
// etcd, both as child processes on loopback ports) for tests.
//
// The server gives tests what only a real API server can: schema validation
// and defaulting (server-side apply with dryRun=All and strict field
// validation), admission including Pod Security warnings, RBAC, and real
// storage for clients such as Helm. It runs no controllers, scheduler or
// kubelets: a test that needs, say, a Deployment to look rolled out writes its
// status subresource itself.
//
// A test binary starts one server for all its tests from TestMain:
//
//	func TestMain(m *testing.M) { kubetest.Main(m, nil) }
//
//	func TestSomething(t *testing.T) {
//		srv := kubetest.Require(t)
//		cfg := srv.RESTConfig()
//		...
//	}
//
// The binaries come from KUBE_APISERVER_BIN and ETCD_BIN when set, otherwise
// from <repo root>/.tools/bin/kube-apiserver and .tools/bin/etcd (etcd 3.6),
// falling back to etcd on PATH (or /usr/bin/etcd); hack/install-tools.sh
// (make tools) provides both. With an etcd older than 3.5.13, such as
// Debian's 3.4, the API server runs with --feature-gates=WatchList=false, as
// client-go informers would otherwise stall on it.
//
// For a cluster whose controllers run (kube-controller-manager,
// kube-scheduler, kwok's fake nodes, and optionally Flux), see
// internal/testbed/loop, which builds on this package. When they
// are missing, Main fails the test binary with a message saying how to install
// them, except under go test -short, where tests calling Require are skipped.
//
// Each server lives in its own temporary directory (etcd data, certificates,
// keys, token file and the logs of both processes, etcd.log and
// kube-apiserver.log). Stop removes it unless KUBETEST_KEEP=1 is set.
package kubetest
