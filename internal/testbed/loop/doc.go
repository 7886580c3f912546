// Package loop runs, for tests, a small Kubernetes cluster whose
// controllers run: etcd and kube-apiserver (from internal/testbed/kubetest),
// kube-controller-manager, kube-scheduler and kwok with a few fake nodes, and
// on demand Flux's source-controller and kustomize-controller. Every process
// is a child of the test binary and listens on loopback only, on free ports.
//
// What it gives tests that the bare API server of internal/testbed/kubetest does
// not: Deployments roll out for real (the deployment and ReplicaSet
// controllers write their status), pods are scheduled onto the fake nodes
// and kwok marks them Running and Ready, EndpointSlices follow Services'
// selectors, namespaces get their default ServiceAccount, and with Flux a
// push to a Git repository is applied to the cluster.
//
// Pods get fake IP addresses (10.0.x.x) that belong to nobody: never send
// traffic to them. The nodes are annotated kwok.x-k8s.io/node=fake (so kwok
// manages them) and tainted kwok.x-k8s.io/node=fake:NoSchedule as kwok's
// nodes usually are: a pod template needs the toleration in Toleration (see
// Config.Untainted for a bed without the taint).
//
// A test binary starts at most one bed, lazily, when the first test asks for
// it, and stops it after its tests:
//
//	func TestMain(m *testing.M) { loop.Main(m) }
//
//	func TestRollout(t *testing.T) {
//		bed := loop.Require(t)            // etcd, API server, controllers, kwok
//		...
//	}
//
//	func TestGitOps(t *testing.T) {
//		bed := loop.Require(t, loop.Flux) // the same, plus Flux
//		...
//	}
//
// With Flux, a test serves its GitOps repository with internal/testbed/gittest (Flux
// takes http, https and ssh URLs), applies a GitRepository and a
// Kustomization in FluxNamespace (ApplyYAML; the files of
// examples/gitops/flux are the ones users copy), and waits for what it
// pushed (WaitDeploymentAvailable, WaitFor). RequestReconcile asks Flux to
// fetch at once, as `flux reconcile` does, instead of at the interval.
//
// Tests that only need an API server should keep using internal/testbed/kubetest,
// which starts in about a second. The binaries come from <repo
// root>/.tools/bin, where hack/install-tools.sh (make tools) builds them.
// When one a test needs is missing, Require fails the test, except under go
// test -short, where it skips it. A bed that fails to start fails every test
// that asks for it, with the end of the failing process's log.
//
// The processes' logs (etcd.log, kube-apiserver.log,
// kube-controller-manager.log, kube-scheduler.log, kwok.log,
// source-controller.log, kustomize-controller.log) are in the bed's
// temporary directory, Dir; it is removed at the end unless KUBETEST_KEEP=1.
package loop
