// Package loop runs, for tests, a small Kubernetes cluster whose
// controllers run: etcd and kube-apiserver (from internal/testbed/kubetest),
// kube-controller-manager, kube-scheduler and kwok with a few fake nodes, and
// on demand Flux's source-controller and kustomize-controller, a data plane
// (kube-proxy and pods that answer) and a real Gateway (Traefik). Every process
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
// A test binary starts at most one bed (and one peer cluster, see below),
// lazily, when the first test asks for it, and stops it after its tests:
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
// # The peer cluster
//
// A story that needs a second API server (a fleet of clusters) asks for
// the peer cluster, the test binary's second Cluster, started as the bed
// is and independent of it: its own etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok with PeerNodes fake node,
// and with Flux its own source-controller and kustomize-controller
// watching it (and only it), each process in its own temporary directory,
// on its own free ports, with its own admin token and kubeconfig:
//
//	bed := loop.Require(t, loop.Flux)
//	peer := loop.RequirePeer(t, loop.Flux)
//
// Main stops both after the tests (at once, so stopping costs no more
// time), or StopPeer stops the peer when the story that needed it ends,
// so that later tests do not share the machine with an idle cluster; a
// killed test binary takes both clusters' processes with it, and
// the next start-up removes both directories, as for the bed alone. The
// data plane is the bed's only. On a 2-core machine shared with other
// builds, the peer with Flux started in 4.6 to 6.8 s (Flux under 1.1 s of
// it) and held 770 to 790 MiB resident, as much as the bed: the API
// server about 320 MiB, the controller manager and kustomize-controller
// about 120 each, source-controller 80, the scheduler 70, kwok 55, etcd
// 50 (ResidentMemory sums them; TestPeer logs both clusters').
//
// # Metrics
//
// With Metrics (loop.Require(t, loop.Metrics)), the HPA controller scales
// on CPU from a chain of real parts: kwok serves each fake node's
// /metrics/resource from the usage that ClusterResourceUsage objects
// simulate (SetUsage sets a CPU figure per value of a pod label), at the
// node's kubelet port (kwok's own) and ExternalIP 127.0.0.1; metrics-server
// scrapes it every 15 s and serves metrics.k8s.io, which the API server's
// aggregation layer (started on every bed: kubetest.Aggregation) proxies
// to it through a Service of type ExternalName, as kwokctl's native runtime
// does. See metrics.go.
//
// # The data plane
//
// With DataPlane (loop.Require(t, loop.DataPlane), it needs root), requests
// reach pods for real. The bed adds a node, DataPlaneNodeName, tainted so
// that only pods with DataPlaneToleration (and DataPlaneNodeSelector, to
// stay off the other nodes) run there, and a network namespace for it
// (bgrdp-PID-node) holding its address NodeIP and ClientAddrs client
// addresses. kube-proxy runs inside that namespace (`ip netns exec`) in
// nftables mode, so its rules are the namespace's and the host's are never
// touched; it reaches the API server through a forwarder whose listening
// socket is in the namespace, and runs with the conntrack flags that keep
// it from writing the host-wide conntrack sysctls. For each pod that the
// scheduler binds to the node, the bed plays the part of the network plugin
// and of the container: it gives the pod an address from DataPlanePodCIDR
// (one that no pod holds, draining ones included), creates a namespace
// (bgrdp-PID-pN) with that address, a veth to the node's namespace and a
// /32 route there, serves HTTP on the pod's container ports with a handler
// of the test process that answers with the pod's name, color (the first
// of ColorLabels) and image, writes the address into the pod's status and
// sets ServingAnnotation; kwok's pod-ready-data-plane Stage makes the pod
// Running and Ready only then. A test dials from the node's namespace with
// DataNode.DialFrom (internal/testbed/load runs clients with it) to a
// Service's ClusterIP, and kube-proxy takes the connection to a pod.
//
// What this models of a kubelet: the pod is Ready exactly when its server
// answers; on deletion (kwok deletes the pod object at once, so its
// endpoint goes as on a real node) the server keeps answering during the
// pod's preStop sleep (a sleep action, or an exec of sleep N), then shuts
// down as a well-behaved server does on SIGTERM (Go's
// http.Server.Shutdown: no new connections, idle keep-alive connections
// closed, active ones closed after their response), and at the end of the
// grace period (terminationGracePeriodSeconds, or the deletion's own)
// everything left is closed, as SIGKILL would, and the namespace goes. What
// it does not model: readiness, liveness and startup probes (the pod is
// Ready once served, never unready later), container restarts, images,
// resource limits, a pod's own processes (the handler is the test's),
// NetworkPolicies (kube-proxy does not enforce them), DNS, and the
// terminating-endpoint phase (the pod object is gone, not Terminating,
// while it drains). Namespaces left by a killed test process are deleted
// by the next data plane's start. kube-proxy.log is in Dir.
//
// # The Gateway
//
// With Gateway (loop.Require(t, loop.Gateway), which implies DataPlane),
// a real Gateway API implementation routes HTTPRoutes: Traefik
// (TraefikVersion, .tools/bin/traefik) runs inside the node's namespace
// (`ip netns exec`, as kube-proxy does), with its Kubernetes Gateway
// provider reading the API server through the same forwarder, and serves
// the Gateway GatewayNamespace/GatewayName (gateway-system/traefik) of the
// GatewayClass GatewayClassName (controllerName
// TraefikController): one HTTP listener on NodeIP:GatewayPort that takes
// routes from every namespace, status address NodeIP. The bed applies the
// Gateway API's standard-channel CRDs (GatewayAPIVersion, from the Go
// module cache) first. Traefik sends a route's requests to the ready
// endpoints of its backend Services' EndpointSlices (pod addresses, not
// the ClusterIP), by a deterministic weighted round robin, so a split
// comes out almost exact; it reports a route Accepted when its provider
// reads it and runs the new configuration after its providers' throttle
// (500 ms here, 2 s by default): Traefik.RouteSplits reads, from its API on
// loopback in the namespace, the weights it runs now. A route whose
// Services' EndpointSlices Traefik has not read yet answers 503, and of two
// routes that match the same requests the older one wins: give each test
// a hostname of its own. Clients reach it at
// Traefik.URL with DataNode.DialFrom (load.Config's Host picks the
// route's hostname). Traefik listens only in the node's namespace, never
// checks for new versions or sends usage reports, and stops with the bed;
// traefik.log is in Dir.
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
// source-controller.log, kustomize-controller.log, and with the data plane
// kube-proxy.log and traefik.log) are in the bed's
// temporary directory, Dir; it is removed at the end unless KUBETEST_KEEP=1.
package loop
