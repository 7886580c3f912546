package loop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bgrender/bgrender/internal/testbed/netnstest"
)

// podServer serves one pod of the data plane's node: a network namespace
// holding the pod's address, a veth to the node's namespace with a /32
// route there, and an HTTP server of the test process listening on the
// pod's container ports inside it.
type podServer struct {
	d         *DataNode
	uid       types.UID
	name      string
	namespace string

	mu       sync.Mutex
	netns    string
	ip       netip.Addr
	srv      *http.Server
	retiring bool
	killed   bool
	timers   []*time.Timer
}

// start gives the pod an address and a namespace, serves it, writes the
// address into its status (as the kubelet would after the network plugin
// answered) and then sets ServingAnnotation, for which kwok's Stage waits.
func (ps *podServer) start(pod *corev1.Pod) {
	if err := ps.serve(pod); err != nil {
		if !errors.Is(err, errKilled) {
			ps.d.fail("pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
		ps.kill()
		ps.teardown()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods := ps.d.c.client.CoreV1().Pods(pod.Namespace)
	ip := ps.ip.String()
	status := fmt.Sprintf(`{"status":{"podIP":%q,"podIPs":[{"ip":%q}]}}`, ip, ip)
	if _, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(status), metav1.PatchOptions{}, "status"); err != nil {
		ps.d.fail("pod %s/%s: setting its IP: %v", pod.Namespace, pod.Name, err)
		return // a pod deleted meanwhile is retired by the watch
	}
	ann := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ServingAnnotation, ip)
	if _, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(ann), metav1.PatchOptions{}); err != nil {
		ps.d.fail("pod %s/%s: annotating it: %v", pod.Namespace, pod.Name, err)
		return
	}
	ps.d.mu.Lock()
	ps.d.served++
	ps.d.mu.Unlock()
}

func (ps *podServer) serve(pod *corev1.Pod) error {
	addr, err := ps.d.takeIP()
	if err != nil {
		return err
	}
	n := ps.d.nextSeq()
	netns := fmt.Sprintf("%s%d-p%d", nsPrefix, os.Getpid(), n)
	veth := "bgrv" + strconv.Itoa(n)
	ps.mu.Lock()
	ps.ip, ps.netns = addr, netns
	ps.mu.Unlock()
	if err := ip("netns", "add", netns); err != nil {
		return err
	}
	node := ps.d.name
	if err := ipBatch(node, []string{
		"link add " + veth + " type veth peer name eth0 netns " + netns,
		"addr add " + NodeIP + "/32 dev " + veth,
		"link set " + veth + " up",
	}); err != nil {
		return err
	}
	if err := ipBatch(netns, []string{
		"link set lo up",
		"addr add " + addr.String() + "/32 dev eth0",
		"link set eth0 up",
		"route add default dev eth0",
	}); err != nil {
		return err
	}
	if err := ipBatch(node, []string{"route add " + addr.String() + "/32 dev " + veth + " src " + NodeIP}); err != nil {
		return err
	}

	ns, err := netnstest.OpenNamespace(netns)
	if err != nil {
		return err
	}
	defer ns.Close()
	var lns []net.Listener
	for _, port := range tcpPorts(pod) {
		ln, err := ns.Listen("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(int(port))))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	srv := &http.Server{Handler: podHandler(pod, addr), ReadHeaderTimeout: 10 * time.Second}
	ps.mu.Lock()
	ps.srv = srv
	killed := ps.killed
	ps.mu.Unlock()
	if killed { // deleted while being set up: kill found no server to close
		for _, l := range lns {
			l.Close()
		}
		ps.teardown()
		return errKilled
	}
	for _, ln := range lns {
		go func() { _ = srv.Serve(ln) }()
	}
	return nil
}

var errKilled = errors.New("deleted while being set up")

// tcpPorts are the pod's TCP container ports (8080 when it declares none).
func tcpPorts(pod *corev1.Pod) []int32 {
	seen := map[int32]bool{}
	var ports []int32
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && !seen[p.ContainerPort] {
				seen[p.ContainerPort] = true
				ports = append(ports, p.ContainerPort)
			}
		}
	}
	if len(ports) == 0 {
		ports = []int32{8080}
	}
	return ports
}

// podHandler answers every request with who served it: the pod's name,
// namespace, color and image, as headers and as JSON.
func podHandler(pod *corev1.Pod, addr netip.Addr) http.Handler {
	color := ""
	for _, l := range ColorLabels {
		if v, ok := pod.Labels[l]; ok {
			color = v
			break
		}
	}
	image := ""
	if len(pod.Spec.Containers) > 0 {
		image = pod.Spec.Containers[0].Image
	}
	body, _ := json.Marshal(map[string]string{"pod": pod.Name, "namespace": pod.Namespace, "color": color, "image": image, "ip": addr.String()})
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set(HeaderPod, pod.Name)
		h.Set(HeaderNamespace, pod.Namespace)
		h.Set(HeaderColor, color)
		h.Set(HeaderImage, image)
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// retire models a deleted pod's end on a kubelet: the server answers as
// before during the preStop sleep; then, at SIGTERM, it shuts down as a
// well-behaved server does (Go's http.Server.Shutdown: no new
// connections, idle keep-alive connections closed, each active one closed
// after its response); at the end of the grace period (SIGKILL) whatever
// is left is closed, and the namespace is deleted.
func (ps *podServer) retire(pod *corev1.Pod) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.retiring || ps.killed {
		return
	}
	ps.retiring = true
	grace := defaultGrace
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		grace = time.Duration(*s) * time.Second
	}
	if s := pod.DeletionGracePeriodSeconds; s != nil && *s > 0 && time.Duration(*s)*time.Second < grace {
		grace = time.Duration(*s) * time.Second
	}
	preStop := min(preStopSleep(pod), grace)
	ps.timers = append(ps.timers,
		time.AfterFunc(preStop, ps.term),
		time.AfterFunc(grace, ps.kill),
	)
}

// preStopSleep is the longest preStop sleep of the pod's containers (a
// sleep action, or an exec of sleep N).
func preStopSleep(pod *corev1.Pod) time.Duration {
	var longest time.Duration
	for _, c := range pod.Spec.Containers {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			continue
		}
		var d time.Duration
		switch h := c.Lifecycle.PreStop; {
		case h.Sleep != nil:
			d = time.Duration(h.Sleep.Seconds) * time.Second
		case h.Exec != nil:
			cmd := strings.Join(h.Exec.Command, " ")
			if i := strings.LastIndex(cmd, "sleep "); i >= 0 {
				f, err := strconv.ParseFloat(strings.Fields(cmd[i+len("sleep "):])[0], 64)
				if err == nil {
					d = time.Duration(f * float64(time.Second))
				}
			}
		}
		longest = max(longest, d)
	}
	return longest
}

// term is SIGTERM: a graceful shutdown that the kill at the end of the
// grace period cuts short.
func (ps *podServer) term() {
	ps.mu.Lock()
	srv := ps.srv
	ps.mu.Unlock()
	if srv == nil {
		return
	}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Shutdown(context.Background()) }()
}

// kill is SIGKILL: the server closes every connection, and the pod's
// namespace (with its veth and route) is deleted and its address freed.
func (ps *podServer) kill() {
	ps.mu.Lock()
	if ps.killed {
		ps.mu.Unlock()
		return
	}
	ps.killed = true
	for _, t := range ps.timers {
		t.Stop()
	}
	srv := ps.srv
	ps.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		ps.teardown()
	} // else serve is still setting up, and tears down when it sees killed
	ps.d.mu.Lock()
	delete(ps.d.pods, ps.uid)
	ps.d.mu.Unlock()
}

// teardown deletes the pod's namespace (with its veth and route) and frees
// its address, once.
func (ps *podServer) teardown() {
	ps.mu.Lock()
	netns, addr := ps.netns, ps.ip
	ps.netns, ps.ip = "", netip.Addr{}
	ps.mu.Unlock()
	if netns != "" {
		_ = ip("netns", "del", netns)
	}
	if addr.IsValid() {
		ps.d.releaseIP(addr)
	}
}
