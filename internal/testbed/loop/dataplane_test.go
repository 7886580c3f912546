package loop_test

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestDataPlaneServes: on the data plane's node, a Deployment's pods get
// addresses in the node's podCIDR and answer HTTP there; kube-proxy takes
// requests to the Service's ClusterIP to them; a rolling update under
// keep-alive and new-connection load fails no request, and once the old
// pods' grace period is over only new pods answer; a Service without
// endpoints refuses connections. kube-proxy's rules are in the node's
// namespace, not the host's.
func TestDataPlaneServes(t *testing.T) {
	bed := loop.Require(t, loop.DataPlane)
	dp := bed.DataPlane()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := bed.Clientset()
	ns := bed.NewNamespace(t, ctx, "dataplane", nil)

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := webDeployment(ns, "registry.example/web:1")
	spec := &d.Spec.Template.Spec
	spec.Tolerations = append(spec.Tolerations, loop.DataPlaneToleration)
	spec.NodeSelector = loop.DataPlaneNodeSelector
	// The preStop sleep outlasts kube-proxy's delay in following the
	// EndpointSlices (up to its --min-sync-period, 1 s, after its last
	// sync): with 1 s, new connections were refused now and then.
	spec.TerminationGracePeriodSeconds = ptr.To[int64](4)
	spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3}}}
	d.Spec.Template.Labels["version"] = "blue"
	began := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, err = bed.WaitDeploymentAvailable(ctx, ns, "web"); err != nil {
		t.Fatalf("%v; data plane errors: %v", err, dp.Errors())
	}
	t.Logf("3 served pods available %s after create", loop.Since(began))
	podCIDR := netip.MustParsePrefix(loop.DataPlanePodCIDR)
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		a, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !podCIDR.Contains(a) || p.Spec.NodeName != loop.DataPlaneNodeName || p.Annotations[loop.ServingAnnotation] != p.Status.PodIP {
			t.Errorf("pod %s on %s: IP %q, annotation %q", p.Name, p.Spec.NodeName, p.Status.PodIP, p.Annotations[loop.ServingAnnotation])
		}
	}
	oldPods := runningPods(t, ctx, bed, ns, "registry.example/web:1")

	// kube-proxy follows the EndpointSlices after its own delay (at most
	// its --min-sync-period, 1 s, after its last sync).
	url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/"
	client := dp.HTTPClient(time.Second)
	if err := loop.WaitFor(ctx, "the Service's ClusterIP to answer", func(context.Context) (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.Header.Get(loop.HeaderPod) != "", nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("the ClusterIP answers %s after create", loop.Since(began))
	if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err != nil || strings.Contains(string(out), "kube-proxy") {
		t.Errorf("the host's own nftables tables (%v):\n%s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", dp.Namespace(), "nft", "list", "tables").CombinedOutput(); err != nil || !strings.Contains(string(out), "kube-proxy") {
		t.Errorf("no kube-proxy table in the node's namespace (%v):\n%s", err, out)
	}
	cfg := load.Config{URL: url, Clients: 2, Duration: time.Minute, Pause: 5 * time.Millisecond, Dial: dp.DialFrom}
	keep, err := load.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mode, cfg.ClientOffset = load.NewConnection, 2
	fresh, err := load.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)

	d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bed.WaitDeploymentAvailable(ctx, ns, "web"); err != nil {
		t.Fatal(err)
	}
	rolled := time.Now()
	newPods := runningPods(t, ctx, bed, ns, "registry.example/web:2")
	// The old pods' grace period (4 s) ends; then a second more of load.
	time.Sleep(6 * time.Second)
	settled := time.Now().Add(-time.Second)
	keepRecs, freshRecs := keep.Stop(), fresh.Stop()
	for _, c := range []struct {
		name string
		recs []load.Record
	}{{"keep-alive", keepRecs}, {"new-connection", freshRecs}} {
		all := load.Summarize(c.recs, time.Time{}, time.Time{})
		t.Logf("%s clients: %s", c.name, all)
		if all.Requests < 100 || all.Failed != 0 {
			t.Errorf("%s clients: %d requests, %d failed: %v %+v", c.name, all.Requests, all.Failed, all.Errors, all.Samples)
		}
		for pod := range load.Summarize(c.recs, time.Time{}, began.Add(time.Hour)).Pods {
			if !slices.Contains(oldPods, pod) && !slices.Contains(newPods, pod) {
				t.Errorf("%s clients: served by %s, neither an old pod %v nor a new one %v", c.name, pod, oldPods, newPods)
			}
		}
		late := load.Summarize(c.recs, settled, time.Time{})
		for pod := range late.Pods {
			if !slices.Contains(newPods, pod) {
				t.Errorf("%s clients: %s answered after the old pods' grace period", c.name, pod)
			}
		}
		if late.Requests == 0 {
			t.Errorf("%s clients: no request after %s", c.name, settled.Sub(rolled))
		}
	}

	// No endpoints: kube-proxy's rules refuse the connection.
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "the Service to have no endpoints", func(ctx context.Context) (bool, error) {
		eps, err := bed.ReadyEndpoints(ctx, ns, "web")
		return len(eps) == 0, err
	}); err != nil {
		t.Fatal(err)
	}
	var dialErr error
	if err := loop.WaitFor(ctx, "a refused connection", func(ctx context.Context) (bool, error) {
		c, err := dp.DialFrom(ctx, 0, "tcp", net.JoinHostPort(svc.Spec.ClusterIP, "80"))
		if err == nil {
			c.Close()
		}
		dialErr = err
		return err != nil && strings.Contains(err.Error(), "refused"), nil
	}); err != nil {
		t.Fatalf("%v (last: %v)", err, dialErr)
	}
}
