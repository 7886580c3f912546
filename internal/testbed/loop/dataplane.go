package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/netnstest"
)

// The data plane's node and addresses. Every address lives only in network
// namespaces that the bed creates; the host's own interfaces, routes and
// rules are never touched.
const (
	// DataPlaneNodeName is the Node whose pods the bed serves (kwok's
	// pod-ready-data-plane Stage waits for them; see kwok-stages.yaml).
	DataPlaneNodeName = "kwok-dataplane"
	// DataPlaneTaintKey is the key of a NoSchedule taint that only the data
	// plane's node has, so that only pods that ask for it land there
	// (DataPlaneToleration, and DataPlaneNodeSelector to keep them off the
	// other nodes).
	DataPlaneTaintKey = "testbed.bgrender.io/data-plane"
	// ServingAnnotation is set on a pod of the data plane's node, to the
	// address the bed serves it at, once its server answers; kwok makes the
	// pod Ready only then.
	ServingAnnotation = "testbed.bgrender.io/serving"

	// NodeIP is the data plane node's InternalIP, in its namespace.
	NodeIP = "10.212.0.1"
	// DataPlanePodCIDR is the node's spec.podCIDR, from which the bed
	// assigns pod addresses (as a network plugin would), and kube-proxy's
	// --cluster-cidr.
	DataPlanePodCIDR = "10.212.16.0/20"
	// ClientAddrs is how many source addresses (10.212.0.16 and up, in the
	// node's namespace) DataNode.DialFrom gives clients, one per client
	// number modulo ClientAddrs: ClientIP session affinity sees that many
	// clients.
	ClientAddrs = 16

	nsPrefix        = "bgrdp-"
	kubeProxyHealth = "127.0.0.1:10256"
	kubeProxyStop   = 5 * time.Second
	// defaultGrace is a pod's terminationGracePeriodSeconds when unset.
	defaultGrace = 30 * time.Second
)

// DataPlaneToleration tolerates the data plane node's own taint.
var DataPlaneToleration = corev1.Toleration{
	Key:      DataPlaneTaintKey,
	Operator: corev1.TolerationOpExists,
	Effect:   corev1.TaintEffectNoSchedule,
}

// DataPlaneNodeSelector keeps pods on the data plane's node.
var DataPlaneNodeSelector = map[string]string{"kubernetes.io/hostname": DataPlaneNodeName}

// ColorLabels are the pod labels a pod server reports as its color, the
// first one present: bgrender's default color label and the article's.
var ColorLabels = []string{"bgrender.io/color", "version"}

// Response headers of a pod server.
const (
	HeaderPod       = "X-Pod"
	HeaderNamespace = "X-Pod-Namespace"
	HeaderColor     = "X-Color"
	HeaderImage     = "X-Image"
)

// DataNode is the data plane's node: a network namespace with kube-proxy
// (nftables mode) in it, and a network namespace with an HTTP server for
// each pod that runs on it. See the package documentation.
type DataNode struct {
	c      *Cluster
	name   string // the node namespace
	ns     *netnstest.Namespace
	proxy  *kubetest.Process
	fwd    *forwarder
	stopCh chan struct{}
	began  time.Time
	ready  time.Duration

	mu      sync.Mutex
	pods    map[types.UID]*podServer
	used    map[netip.Addr]bool
	next    int // IPAM cursor, an offset into DataPlanePodCIDR
	seq     int // pod namespace numbers
	stopped bool
	served  int
	errs    []string
}

// DataPlane returns the bed's data plane, nil unless it was started
// (Require with DataPlane, or StartDataPlane).
func (c *Cluster) DataPlane() *DataNode {
	c.dpMu.Lock()
	defer c.dpMu.Unlock()
	return c.dp
}

// findDataPlane checks what the data plane needs: root, the ip and nft
// commands, and kube-proxy in .tools/bin.
func findDataPlane() (string, error) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces)")
	}
	for _, cmd := range []string{"ip", "nft"} {
		if _, err := lookSbin(cmd); err != nil {
			missing = append(missing, cmd+" (Debian package "+map[string]string{"ip": "iproute2", "nft": "nftables"}[cmd]+")")
		}
	}
	var bin string
	root, err := kubetest.RepoRoot()
	if err != nil {
		missing = append(missing, fmt.Sprintf("kube-proxy (%v)", err))
	} else if bin = filepath.Join(root, ".tools", "bin", "kube-proxy"); !isExecutable(bin) {
		missing = append(missing, fmt.Sprintf("kube-proxy (%s does not exist)", bin))
	}
	if len(missing) > 0 {
		return "", &MissingError{Missing: missing}
	}
	return bin, nil
}

// lookSbin finds a command on PATH or in /usr/sbin and /sbin, where Debian
// puts ip and nft.
func lookSbin(cmd string) (string, error) {
	if p, err := exec.LookPath(cmd); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, cmd); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", cmd)
}

// StartDataPlane starts the data plane if it does not run yet: the node's
// network namespace, its Node object (Ready, with its address and
// podCIDR), kube-proxy in nftables mode inside the namespace (reaching the
// API server through a forwarder whose socket is in the namespace), and
// the watch that serves the node's pods. ctx only bounds start-up.
func (c *Cluster) StartDataPlane(ctx context.Context) (retErr error) {
	c.dpMu.Lock()
	defer c.dpMu.Unlock()
	if c.dp != nil {
		return nil
	}
	bin, err := findDataPlane()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	removeStaleNamespaces()
	d := &DataNode{
		c:      c,
		name:   fmt.Sprintf("%s%d-node", nsPrefix, os.Getpid()),
		stopCh: make(chan struct{}),
		began:  time.Now(),
		pods:   map[types.UID]*podServer{},
		used:   map[netip.Addr]bool{},
	}
	defer func() {
		if retErr != nil {
			d.stop()
		}
	}()
	if err := d.setupNode(); err != nil {
		return err
	}
	if err := c.createDataPlaneNode(ctx); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx, DataPlaneNodeName); err != nil {
		return err
	}
	if err := d.startKubeProxy(bin); err != nil {
		return err
	}
	if err := d.waitKubeProxy(ctx); err != nil {
		return err
	}
	d.watchPods()
	d.ready = time.Since(d.began)
	c.dp = d
	return nil
}

// setupNode creates the node's namespace: lo, an eth0 (a veth whose peer
// sink0 drops what it gets) holding NodeIP and the clients' addresses, a
// route for the Service ClusterIP range (kube-proxy's rules rewrite the
// destination), and the forwarder to the API server.
func (d *DataNode) setupNode() error {
	if err := ip("netns", "add", d.name); err != nil {
		return err
	}
	cmds := []string{
		"link set lo up",
		"link add eth0 type veth peer name sink0",
		"addr add " + NodeIP + "/24 dev eth0",
		"link set eth0 up",
		"link set sink0 up",
		"route add " + kubetest.ServiceClusterIPRange + " dev eth0",
	}
	for i := range ClientAddrs {
		cmds = append(cmds, "addr add "+clientAddr(i).String()+"/32 dev eth0")
	}
	if err := ipBatch(d.name, cmds); err != nil {
		return err
	}
	ns, err := netnstest.OpenNamespace(d.name)
	if err != nil {
		return err
	}
	d.ns = ns
	host := strings.TrimPrefix(d.c.Host(), "https://")
	d.fwd, err = newForwarder(ns, host)
	return err
}

func clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 212, 0, byte(16 + i%ClientAddrs)})
}

func (c *Cluster) createDataPlaneNode(ctx context.Context) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	status := corev1.NodeStatus{
		Capacity: res, Allocatable: res,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: NodeIP},
			{Type: corev1.NodeHostName, Address: DataPlaneNodeName},
		},
	}
	taints := []corev1.Taint{{Key: DataPlaneTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	if !c.cfg.Untainted {
		taints = append(taints, corev1.Taint{Key: TaintKey, Value: "fake", Effect: corev1.TaintEffectNoSchedule})
	}
	if c.cfg.OpenDataPlane {
		taints = nil
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        DataPlaneNodeName,
			Annotations: map[string]string{NodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": DataPlaneNodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Spec:   corev1.NodeSpec{PodCIDR: DataPlanePodCIDR, PodCIDRs: []string{DataPlanePodCIDR}, Taints: taints},
		Status: status,
	}
	created, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: kubetest.FieldManager})
	if err != nil {
		return fmt.Errorf("loop: creating node %s: %w", DataPlaneNodeName, err)
	}
	if len(created.Status.Addresses) == 0 { // status dropped on create: set it
		created.Status = status
		if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("loop: setting the status of node %s: %w", DataPlaneNodeName, err)
		}
	}
	return nil
}

func (d *DataNode) startKubeProxy(bin string) error {
	dir := d.c.Dir()
	kubeconfig, err := d.writeKubeconfig("kube-proxy.kubeconfig")
	if err != nil {
		return err
	}
	ipCmd, err := lookSbin("ip")
	if err != nil {
		return err
	}
	env := append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	d.proxy, err = kubetest.StartProcess("kube-proxy", ipCmd, filepath.Join(dir, "kube-proxy.log"), env,
		"netns", "exec", d.name, bin,
		"--kubeconfig="+kubeconfig,
		"--proxy-mode=nftables",
		"--hostname-override="+DataPlaneNodeName,
		"--cluster-cidr="+DataPlanePodCIDR,
		// Never write the host-wide conntrack sysctls.
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--healthz-bind-address="+kubeProxyHealth,
		"--metrics-bind-address=127.0.0.1:10249",
		"--v=2",
	)
	return err
}

// writeKubeconfig writes, into the bed's directory, a kubeconfig for a
// program that runs in the node's namespace: the API server through the
// forwarder, with the admin token. It returns its path.
func (d *DataNode) writeKubeconfig(name string) (string, error) {
	path := filepath.Join(d.c.Dir(), name)
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: loop
  cluster:
    server: https://%s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: loop
  context: {cluster: loop, user: admin}
current-context: loop
`, d.fwd.addr, d.c.AdminToken())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("loop: %w", err)
	}
	return path, nil
}

// waitKubeProxy waits until kube-proxy's /healthz, inside the namespace,
// answers 200 (it has synced its rules).
func (d *DataNode) waitKubeProxy(ctx context.Context) error {
	client := d.HTTPClient(2 * time.Second)
	defer client.CloseIdleConnections()
	var last string
	for {
		if d.proxy.Exited() {
			return fmt.Errorf("loop: kube-proxy exited during start-up (%v); last lines of its log:\n%s", d.proxy.Err(), d.proxy.LogTail(logTailLines))
		}
		resp, err := client.Get("http://" + kubeProxyHealth + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loop: kube-proxy not healthy: %w (last check: %s); last lines of its log:\n%s", ctx.Err(), last, d.proxy.LogTail(logTailLines))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Namespace is the name of the node's network namespace (for `ip netns
// exec`, e.g. `nft list ruleset` as kube-proxy wrote it).
func (d *DataNode) Namespace() string { return d.name }

// StartupTime is how long the data plane took to start.
func (d *DataNode) StartupTime() time.Duration { return d.ready }

// KubeProxyLogTail returns the end of kube-proxy's log.
func (d *DataNode) KubeProxyLogTail(n int) string { return d.proxy.LogTail(n) }

// DialFrom connects from inside the node's namespace, from the source
// address of client number client (ClientAddrs of them, round robin), to
// addr, a literal IP address and port (a Service's ClusterIP: kube-proxy's
// rules take it to a pod). Its signature is load.Config's Dial.
func (d *DataNode) DialFrom(ctx context.Context, client int, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: clientAddr(client).AsSlice()}}
	return d.ns.DialContext(ctx, dialer, network, addr)
}

// HTTPClient is an HTTP client whose connections start in the node's
// namespace (from NodeIP), with the given timeout.
func (d *DataNode) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.ns.DialContext(ctx, nil, network, addr)
		},
	}}
}

// Served is how many pods the data plane has served so far.
func (d *DataNode) Served() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.served
}

// Errors returns what went wrong serving pods (a pod that could not be
// served stays unready, so tests see it as a rollout that does not end;
// this says why).
func (d *DataNode) Errors() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.errs...)
}

func (d *DataNode) fail(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.errs) < 100 {
		d.errs = append(d.errs, fmt.Sprintf(format, args...))
	}
}

// watchPods serves every pod bound to the node, and retires deleted ones.
func (d *DataNode) watchPods() {
	lw := cache.NewFilteredListWatchFromClient(d.c.client.CoreV1().RESTClient(), "pods", metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName=" + DataPlaneNodeName
	})
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { d.onPod(o, false) },
		UpdateFunc: func(_, o any) { d.onPod(o, false) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			d.onPod(o, true)
		},
	})
	go inf.Run(d.stopCh)
}

func (d *DataNode) onPod(o any, deleted bool) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	ps := d.pods[pod.UID]
	switch {
	case deleted || pod.DeletionTimestamp != nil:
		if ps != nil {
			ps.retire(pod)
		}
	case ps == nil && pod.Status.Phase == corev1.PodPending && pod.Annotations[ServingAnnotation] == "":
		ps = &podServer{d: d, uid: pod.UID, name: pod.Name, namespace: pod.Namespace}
		d.pods[pod.UID] = ps
		go ps.start(pod.DeepCopy())
	}
}

// takeIP assigns a pod address from DataPlanePodCIDR that no pod holds,
// serving or draining (kwok would hand a deleted pod's address to the next
// pod at once, while the bed still drains the old one there).
func (d *DataNode) takeIP() (netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prefix := netip.MustParsePrefix(DataPlanePodCIDR)
	size := 1 << (32 - prefix.Bits())
	for range size {
		d.next = d.next%(size-2) + 1 // skip the network and broadcast addresses
		a := prefix.Addr().As4()
		n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		n += uint32(d.next)
		addr := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		if !d.used[addr] {
			d.used[addr] = true
			return addr, nil
		}
	}
	return netip.Addr{}, errors.New("loop: no free pod address in " + DataPlanePodCIDR)
}

func (d *DataNode) releaseIP(a netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.used, a)
}

func (d *DataNode) nextSeq() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return d.seq
}

// stop stops the pod servers, kube-proxy and the forwarder, and deletes
// every namespace the data plane made.
func (d *DataNode) stop() {
	d.mu.Lock()
	if !d.stopped {
		d.stopped = true
		close(d.stopCh)
	}
	pods := make([]*podServer, 0, len(d.pods))
	for _, ps := range d.pods {
		pods = append(pods, ps)
	}
	d.mu.Unlock()
	for _, ps := range pods {
		ps.kill()
	}
	d.proxy.Stop(kubeProxyStop)
	if d.fwd != nil {
		d.fwd.close()
	}
	if d.ns != nil {
		d.ns.Close()
	}
	_ = ip("netns", "del", d.name)
	removeNamespaces(func(pid int) bool { return pid == os.Getpid() }) // pods still being set up
}

// removeStaleNamespaces deletes the namespaces of data planes whose test
// process is gone (killed before it could clean up).
func removeStaleNamespaces() {
	removeNamespaces(func(pid int) bool {
		if pid == os.Getpid() {
			return false
		}
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	})
}

// removeNamespaces deletes the data planes' namespaces of the processes for
// which remove returns true.
func removeNamespaces(remove func(pid int) bool) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		if pid, err := strconv.Atoi(pidStr); err == nil && remove(pid) {
			_ = ip("netns", "del", name)
		}
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("loop: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ipBatch runs ip commands in namespace ns with one `ip -batch`.
func ipBatch(ns string, cmds []string) error {
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("loop: ip -n %s -batch (%s): %v: %s", ns, strings.Join(cmds, "; "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// forwarder accepts connections on a loopback port inside a namespace and
// relays them to an address of the host's loopback.
type forwarder struct {
	ln    net.Listener
	addr  string // inside the namespace
	to    string
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newForwarder(ns *netnstest.Namespace, to string) (*forwarder, error) {
	ln, err := ns.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, addr: ln.Addr().String(), to: to, conns: map[net.Conn]bool{}}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			out, err := net.Dial("tcp", f.to)
			if err != nil {
				in.Close()
				return
			}
			if !f.track(in, out) {
				return
			}
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
			<-done
			in.Close()
			out.Close()
			<-done
			f.untrack(in, out)
		})
	}
}

func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = true
	}
	return true
}

func (f *forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
