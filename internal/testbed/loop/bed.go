package loop

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

const (
	// DefaultNodes is the number of fake nodes of a bed whose Config says
	// none.
	DefaultNodes = 3

	// NodeAnnotation marks the nodes kwok manages (its
	// --manage-nodes-with-annotation-selector).
	NodeAnnotation = "kwok.x-k8s.io/node"
	// TaintKey is the key of the taint on the fake nodes (value "fake",
	// effect NoSchedule) unless Config.Untainted.
	TaintKey = "kwok.x-k8s.io/node"

	// StartTimeout bounds the start-up of the core bed, and separately
	// that of Flux, when ctx has no earlier deadline.
	StartTimeout = 90 * time.Second

	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// logTailLines is how many log lines a start-up error quotes.
	logTailLines = 30
)

// Toleration tolerates the taint of the fake nodes; a pod template needs
// it unless the bed's nodes are untainted.
var Toleration = corev1.Toleration{
	Key:      TaintKey,
	Operator: corev1.TolerationOpExists,
	Effect:   corev1.TaintEffectNoSchedule,
}

//go:embed kwok-stages.yaml
var kwokStages []byte

// kwokMetrics is kwok's Metric of the nodes' /metrics/resource, and
// kwokCRDs the CRD of the simulated usage (see metrics.go).
var (
	//go:embed kwok-metrics.yaml
	kwokMetrics []byte
	//go:embed kwok-crds.yaml
	kwokCRDs []byte
)

// Part is an optional part of a bed.
type Part int

const (
	// Flux adds Flux's source-controller and kustomize-controller, with
	// their CRDs applied and the namespace flux-system created. They run
	// with the admin credentials of the bed and watch every namespace.
	Flux Part = iota + 1
	// DataPlane adds a data plane: a node (DataPlaneNodeName) whose pods
	// answer HTTP at their addresses, and kube-proxy (nftables mode) in
	// that node's network namespace, so that requests to a Service's
	// ClusterIP reach them (see DataNode). It needs root.
	DataPlane
	// Metrics adds metrics-server, serving metrics.k8s.io through the API
	// server's aggregation layer from the pod usage kwok simulates
	// (SetUsage): the HPA controller then scales on CPU (see metrics.go).
	Metrics
	// Gateway adds a real Gateway (and the data plane, which it implies):
	// the Gateway API's standard-channel CRDs, Traefik in the data plane
	// node's namespace with its Kubernetes Gateway provider, and the
	// GatewayClass GatewayClassName and Gateway
	// GatewayNamespace/GatewayName it serves, on NodeIP:GatewayPort (see
	// Traefik).
	Gateway
)

// FluxNamespace is the namespace of Flux's objects (RUNTIME_NAMESPACE).
const FluxNamespace = "flux-system"

// Config shapes a bed's cluster.
type Config struct {
	// Nodes is the number of fake nodes (DefaultNodes when 0). They are
	// named kwok-node-0, kwok-node-1, ... and each has 32 CPUs, 256 GiB of
	// memory and room for 110 pods.
	Nodes int
	// Untainted leaves the nodes without the kwok.x-k8s.io/node taint, so
	// that pods without Toleration are scheduled onto them.
	Untainted bool
	// OpenDataPlane leaves the data plane's node (DataPlane) without any
	// taint while the fake nodes keep theirs: pods that tolerate nothing
	// are scheduled there and only there, so a spec runs on the data plane
	// as its user wrote it (bench/loop -spec).
	OpenDataPlane bool
}

// Cluster is a running bed. It embeds the kubetest.Server of its API
// server, so the helpers of that package (Dynamic, RESTMapper,
// ApplyDryRun, Kubeconfig, ...) work on it too. Its methods are safe for
// concurrent use.
type Cluster struct {
	*kubetest.Server

	cfg        Config
	bins       Binaries
	kubeconfig string
	client     kubernetes.Interface
	nodes      []string
	startup    time.Duration

	kcm, scheduler, kwok *kubetest.Process

	fluxMu      sync.Mutex
	source      *kubetest.Process
	kustomize   *kubetest.Process
	fluxStartup time.Duration
	storageURL  string

	dpMu sync.Mutex
	dp   *DataNode

	gwMu sync.Mutex
	gw   *Traefik

	msMu          sync.Mutex
	metricsServer *kubetest.Process

	stopOnce sync.Once
	stopErr  error
}

// Start starts a bed with the binaries FindBinaries finds: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, then
// cfg.Nodes fake nodes, and waits until the nodes are Ready and the default
// namespace has its ServiceAccount; then the parts asked for. ctx only
// bounds start-up (at most StartTimeout for the core and as much for Flux).
// On failure, everything started is stopped and the error quotes the end of
// the failing component's log.
func Start(ctx context.Context, cfg Config, parts ...Part) (*Cluster, error) {
	bins, err := FindBinaries(hasPart(parts, Flux))
	if err != nil {
		return nil, err
	}
	return StartWith(ctx, cfg, bins, parts...)
}

// StartWith is Start with explicit binaries.
func StartWith(ctx context.Context, cfg Config, bins Binaries, parts ...Part) (_ *Cluster, retErr error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = DefaultNodes
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	// The aggregation layer costs two certificates: with it the Metrics
	// part can be added to a running bed.
	srv, err := kubetest.StartWith(ctx, bins.Kube, kubetest.Aggregation)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Server: srv, cfg: cfg, bins: bins}
	defer func() {
		if retErr != nil {
			c.kill()
		}
	}()
	if err := c.startCore(ctx); err != nil {
		return nil, err
	}
	c.startup = time.Since(began)
	if hasPart(parts, Flux) {
		if err := c.StartFlux(ctx); err != nil {
			return nil, err
		}
	}
	if hasPart(parts, DataPlane) {
		if err := c.StartDataPlane(ctx); err != nil {
			return nil, err
		}
	}
	if hasPart(parts, Gateway) {
		if err := c.StartGateway(ctx); err != nil {
			return nil, err
		}
	}
	if hasPart(parts, Metrics) {
		if err := c.StartMetrics(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func hasPart(parts []Part, p Part) bool {
	for _, q := range parts {
		if q == p {
			return true
		}
	}
	return false
}

func (c *Cluster) startCore(ctx context.Context) error {
	dir := c.Dir()
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := c.WriteKubeconfig(c.kubeconfig); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	ca, err := c.CACertPEM()
	if err != nil {
		return err
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, append(append(slices.Clip(kwokStages), "\n---\n"...), kwokMetrics...), 0o644); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	if c.client, err = kubernetes.NewForConfig(c.RESTConfig()); err != nil {
		return fmt.Errorf("loop: %w", err)
	}

	if err := c.applyKwokCRDs(ctx); err != nil {
		return err
	}
	ports, err := kubetest.FreePorts(3)
	if err != nil {
		return fmt.Errorf("loop: picking free ports: %w", err)
	}
	kcmPort, schedPort, kwokPort := strconv.Itoa(ports[0]), strconv.Itoa(ports[1]), strconv.Itoa(ports[2])
	logFile := func(name string) string { return filepath.Join(dir, name+".log") }

	// The three start at once; each waits for the API server by itself.
	if c.kcm, err = kubetest.StartProcess("kube-controller-manager", c.bins.ControllerManager, logFile("kube-controller-manager"), os.Environ(),
		"--kubeconfig="+c.kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+kcmPort,
		"--service-account-private-key-file="+c.ServiceAccountKeyFile(),
		"--root-ca-file="+caFile,
	); err != nil {
		return err
	}
	if c.scheduler, err = kubetest.StartProcess("kube-scheduler", c.bins.Scheduler, logFile("kube-scheduler"), os.Environ(),
		"--kubeconfig="+c.kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+schedPort,
	); err != nil {
		return err
	}
	if c.kwok, err = kubetest.StartProcess("kwok", c.bins.Kwok, logFile("kwok"), os.Environ(),
		"--kubeconfig="+c.kubeconfig,
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+NodeAnnotation+"=fake",
		"--node-lease-duration-seconds=40",
		"--cidr=10.0.0.0/16",
		"--node-ip=10.0.0.1",
		"--server-address=127.0.0.1:"+kwokPort,
		// The nodes' kubelet port is kwok's server, which serves each
		// node's /metrics/resource (kwok-metrics.yaml) from the usage the
		// ClusterResourceUsage objects simulate (see metrics.go).
		"--node-port="+kwokPort,
		"--enable-crds=ClusterResourceUsage",
	); err != nil {
		return err
	}
	for _, h := range []struct {
		p   *kubetest.Process
		url string
	}{
		{c.kcm, "https://127.0.0.1:" + kcmPort + "/healthz"},
		{c.scheduler, "https://127.0.0.1:" + schedPort + "/readyz"},
		{c.kwok, "http://127.0.0.1:" + kwokPort + "/healthz"},
	} {
		if err := waitHealthy(ctx, h.p, h.url); err != nil {
			return fmt.Errorf("loop: %w", err)
		}
	}

	for i := range c.cfg.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		if err := c.createNode(ctx, name); err != nil {
			return err
		}
		c.nodes = append(c.nodes, name)
	}
	for _, name := range c.nodes {
		if err := c.waitNodeReady(ctx, name); err != nil {
			return err
		}
	}
	return c.waitServiceAccount(ctx, metav1.NamespaceDefault)
}

// AddNode creates one more fake node and waits until it is Ready.
func (c *Cluster) AddNode(ctx context.Context, name string) error {
	if err := c.createNode(ctx, name); err != nil {
		return err
	}
	return c.waitNodeReady(ctx, name)
}

func (c *Cluster) createNode(ctx context.Context, name string) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{NodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0", resourceMetricsPath: "/metrics/nodes/" + name + "/metrics/resource"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res, Addresses: nodeAddresses(name)},
	}
	if !c.cfg.Untainted {
		node.Spec.Taints = []corev1.Taint{{Key: TaintKey, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}
	}
	created, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: kubetest.FieldManager})
	if err != nil {
		return fmt.Errorf("loop: creating node %s: %w", name, err)
	}
	if len(created.Status.Capacity) == 0 { // status dropped on create: set it
		created.Status.Capacity, created.Status.Allocatable, created.Status.Addresses = res, res, nodeAddresses(name)
		if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("loop: setting the capacity of node %s: %w", name, err)
		}
	}
	return nil
}

func (c *Cluster) waitNodeReady(ctx context.Context, name string) error {
	return poll(ctx, func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}, func(err error) error {
		return fmt.Errorf("loop: node %s not Ready: %w; last lines of kwok's log:\n%s", name, err, c.kwok.LogTail(logTailLines))
	})
}

func (c *Cluster) waitServiceAccount(ctx context.Context, ns string) error {
	return poll(ctx, func() (bool, error) {
		_, err := c.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}, func(err error) error {
		return fmt.Errorf("loop: no ServiceAccount default in namespace %s: %w; last lines of kube-controller-manager's log:\n%s", ns, err, c.kcm.LogTail(logTailLines))
	})
}

// poll calls cond every 50 ms until it returns true or ctx ends; a
// transient error is retried, the last one is reported. wrap formats the
// final error.
func poll(ctx context.Context, cond func() (bool, error), wrap func(error) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return wrap(fmt.Errorf("%w (last error: %v)", ctx.Err(), last))
			}
			return wrap(ctx.Err())
		case <-tick.C:
		}
	}
}

// Clientset returns a typed client (admin, no rate limit).
func (c *Cluster) Clientset() kubernetes.Interface { return c.client }

// KubeconfigPath returns the path of the bed's kubeconfig file (admin
// token, TLS verification skipped), which the controllers use too.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// Nodes returns the names of the fake nodes created at start-up.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.nodes...) }

// Config returns the bed's configuration, defaults filled in.
func (c *Cluster) Config() Config { return c.cfg }

// StartupTime is how long the core bed took to start: from the start of
// etcd to Ready nodes and the default ServiceAccount.
func (c *Cluster) StartupTime() time.Duration { return c.startup }

// FluxStartupTime is how long Flux took to start (CRDs applied and
// established, both controllers ready); 0 when Flux does not run.
func (c *Cluster) FluxStartupTime() time.Duration {
	c.fluxMu.Lock()
	defer c.fluxMu.Unlock()
	return c.fluxStartup
}

// HasFlux reports whether Flux runs.
func (c *Cluster) HasFlux() bool {
	c.fluxMu.Lock()
	defer c.fluxMu.Unlock()
	return c.source != nil
}

// FluxStorageURL is the base URL of source-controller's artifact server
// (http://127.0.0.1:PORT); empty when Flux does not run.
func (c *Cluster) FluxStorageURL() string {
	c.fluxMu.Lock()
	defer c.fluxMu.Unlock()
	return c.storageURL
}

// ResidentMemory is the resident memory (VmRSS, in bytes) of the
// cluster's processes now, summed: etcd, kube-apiserver, the controller
// manager, the scheduler, kwok and, when they run, Flux's controllers and
// metrics-server (not the data plane's kube-proxy, nor the test process).
// It reads /proc, so only on Linux.
func (c *Cluster) ResidentMemory() (int64, error) {
	ps := append(c.Server.Processes(), c.kcm, c.scheduler, c.kwok)
	c.fluxMu.Lock()
	ps = append(ps, c.source, c.kustomize)
	c.fluxMu.Unlock()
	c.msMu.Lock()
	ps = append(ps, c.metricsServer)
	c.msMu.Unlock()
	var sum int64
	for _, p := range ps {
		if p == nil {
			continue
		}
		n, err := p.ResidentMemory()
		if err != nil {
			return 0, fmt.Errorf("loop: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// Stop stops Flux, kwok, the scheduler and the controller manager, then the
// API server and etcd (each with SIGTERM, then SIGKILL after a few
// seconds), and removes the bed's directory unless KUBETEST_KEEP=1. The API
// server goes last but one, when its clients are gone, so that it exits at
// once instead of draining their connections for a minute. It may be called
// more than once and on a nil Cluster.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() {
		c.stopProcesses(stopGrace)
		c.stopErr = c.Server.Stop()
	})
	return c.stopErr
}

// kill is Stop without grace, after a failed start-up.
func (c *Cluster) kill() {
	c.stopOnce.Do(func() {
		c.stopProcesses(0)
		c.stopErr = c.Server.Stop()
	})
}

func (c *Cluster) stopProcesses(grace time.Duration) {
	// Traefik runs in the data plane node's namespace: it goes first.
	c.gwMu.Lock()
	gw := c.gw
	c.gw = nil
	c.gwMu.Unlock()
	gw.stop()
	c.dpMu.Lock()
	dp := c.dp
	c.dp = nil
	c.dpMu.Unlock()
	if dp != nil {
		dp.stop()
	}
	c.fluxMu.Lock()
	flux := []*kubetest.Process{c.kustomize, c.source}
	c.fluxMu.Unlock()
	stopAll(grace, flux...)
	c.msMu.Lock()
	ms := c.metricsServer
	c.msMu.Unlock()
	stopAll(grace, ms)
	stopAll(grace, c.kwok)
	stopAll(grace, c.scheduler, c.kcm)
}

// stopAll stops the processes in parallel and returns when all are reaped.
func stopAll(grace time.Duration, ps ...*kubetest.Process) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.Stop(grace) })
	}
	wg.Wait()
}
