package loop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// The metrics chain of the Metrics part, all real components:
//
//	kwok (the nodes' kubelet): each node serves its pods' CPU and memory
//	  at /metrics/nodes/<node>/metrics/resource (kwok-metrics.yaml, as
//	  kwokctl installs it), computed from ClusterResourceUsage objects
//	  (SetUsage), on kwok's server port, which the nodes report as their
//	  kubelet port (--node-port) at the address 127.0.0.1 (ExternalIP);
//	metrics-server scrapes them (--kubelet-use-node-status-port,
//	  --kubelet-preferred-address-types=ExternalIP, kwok's self-signed
//	  certificate: --kubelet-insecure-tls) and serves metrics.k8s.io;
//	kube-apiserver's aggregation layer (kubetest.Aggregation: front-proxy
//	  certificates and --requestheader-* flags) proxies
//	  v1beta1.metrics.k8s.io to it, through a Service of type ExternalName
//	  (127.0.0.1) as kwokctl's native runtime does;
//	the HPA controller of kube-controller-manager reads it there.

// resourceMetricsPath is the node annotation that tells metrics-server
// where the node's kubelet serves /metrics/resource.
const resourceMetricsPath = "metrics.k8s.io/resource-metrics-path"

// nodeAddresses are a fake node's addresses: the InternalIP and Hostname
// kwok would give it, and 127.0.0.1 as ExternalIP, where its kubelet (kwok's
// server) answers metrics-server.
func nodeAddresses(name string) []corev1.NodeAddress {
	return []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
		{Type: corev1.NodeHostName, Address: name},
		{Type: corev1.NodeExternalIP, Address: "127.0.0.1"},
	}
}

// ClusterResourceUsages is kwok's simulated usage of pods.
var ClusterResourceUsages = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterresourceusages"}

// APIServices is the aggregation layer's resource.
var APIServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// applyKwokCRDs installs the CRD of the usage kwok simulates, before kwok
// starts watching it.
func (c *Cluster) applyKwokCRDs(ctx context.Context) error {
	crds, err := DecodeYAML(kwokCRDs)
	if err != nil {
		return fmt.Errorf("loop: kwok-crds.yaml: %w", err)
	}
	if err := c.Apply(ctx, crds); err != nil {
		return fmt.Errorf("loop: applying kwok's CRDs: %w", err)
	}
	for _, crd := range crds {
		if err := c.waitEstablished(ctx, crd.GetName()); err != nil {
			return err
		}
	}
	c.RESTMapper().Reset()
	return nil
}

// HasMetrics reports whether metrics-server runs.
func (c *Cluster) HasMetrics() bool {
	c.msMu.Lock()
	defer c.msMu.Unlock()
	return c.metricsServer != nil
}

// StartMetrics starts metrics-server and registers it as
// v1beta1.metrics.k8s.io, then waits until the APIService is Available.
// ctx only bounds start-up (at most StartTimeout).
func (c *Cluster) StartMetrics(ctx context.Context) (retErr error) {
	c.msMu.Lock()
	defer c.msMu.Unlock()
	if c.metricsServer != nil {
		return nil
	}
	if c.bins.MetricsServer == "" {
		return &MissingError{Missing: []string{"metrics-server (.tools/bin/metrics-server does not exist)"}}
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	ports, err := kubetest.FreePorts(1)
	if err != nil {
		return fmt.Errorf("loop: picking a free port: %w", err)
	}
	port := strconv.Itoa(ports[0])
	ms, err := kubetest.StartProcess("metrics-server", c.bins.MetricsServer, filepath.Join(c.Dir(), "metrics-server.log"), os.Environ(),
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig,
		"--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+port,
		"--cert-dir="+filepath.Join(c.Dir(), "metrics-server"),
		"--kubelet-use-node-status-port",
		"--kubelet-preferred-address-types=ExternalIP",
		"--kubelet-insecure-tls",
		// Its shortest resolution (10s; the default is 60s), with a
		// scrape timeout under it as it requires.
		"--metric-resolution=10s",
		"--kubelet-request-timeout=5s",
	)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			stopAll(0, ms)
		}
	}()
	if err := waitHealthy(ctx, ms, "https://127.0.0.1:"+port+"/livez"); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	if err := c.registerMetricsAPI(ctx, ports[0]); err != nil {
		return err
	}
	err = poll(ctx, func() (bool, error) {
		u, err := c.Dynamic().Resource(APIServices).Get(ctx, "v1beta1.metrics.k8s.io", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, x := range conds {
			m, _ := x.(map[string]any)
			if m["type"] == "Available" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	}, func(err error) error {
		return fmt.Errorf("loop: APIService v1beta1.metrics.k8s.io not Available: %w; last lines of metrics-server's log:\n%s", err, ms.LogTail(logTailLines))
	})
	if err != nil {
		return err
	}
	c.metricsServer = ms
	return nil
}

// registerMetricsAPI creates the Service kube-system/metrics-server
// (ExternalName 127.0.0.1: the aggregator proxies to that name and the
// APIService's port) and the APIService v1beta1.metrics.k8s.io.
func (c *Cluster) registerMetricsAPI(ctx context.Context, port int) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: metav1.NamespaceSystem},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "127.0.0.1",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(port)}}},
	}
	if _, err := c.client.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, svc, metav1.CreateOptions{FieldManager: kubetest.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("loop: creating Service kube-system/metrics-server: %w", err)
	}
	api := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.metrics.k8s.io"},
		"spec": map[string]any{
			"group": "metrics.k8s.io", "version": "v1beta1",
			"service":               map[string]any{"namespace": metav1.NamespaceSystem, "name": "metrics-server", "port": int64(port)},
			"insecureSkipTLSVerify": true, // metrics-server's self-signed certificate
			"groupPriorityMinimum":  int64(100), "versionPriority": int64(100),
		},
	}}
	if _, err := c.Dynamic().Resource(APIServices).Create(ctx, api, metav1.CreateOptions{FieldManager: kubetest.FieldManager}); err != nil {
		return fmt.Errorf("loop: creating APIService v1beta1.metrics.k8s.io: %w", err)
	}
	return nil
}

// SetUsage sets the CPU each pod of namespace ns uses, by the value of
// its label key (e.g. the color label): usage maps a value to a quantity
// ("150m"); other pods use 1m, and 16Mi of memory each. kwok serves it from the next scrape on;
// metrics-server reports a rate after two scrapes (its resolution is 10s).
// It is the simulated load of a story: nothing writes a pod's, a
// Deployment's or an HPA's status.
func (c *Cluster) SetUsage(ctx context.Context, ns, key string, usage map[string]string) error {
	values := make([]string, 0, len(usage))
	for v := range usage {
		values = append(values, v)
	}
	sort.Strings(values)
	expr := `Quantity("1m")`
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		expr = fmt.Sprintf(`(%q in pod.metadata.labels && pod.metadata.labels[%q] == %q) ? Quantity(%q) : %s`, key, key, v, usage[v], expr)
	}
	name := "usage-" + ns
	obj := map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterResourceUsage",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{ns}},
			// metrics-server drops a pod whose working set is 0: every pod
			// reports 16Mi.
			"usages": []any{map[string]any{"usage": map[string]any{"cpu": map[string]any{"expression": expr}, "memory": map[string]any{"value": "16Mi"}}}},
		},
	}
	data, err := (&unstructured.Unstructured{Object: obj}).MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	_, err = c.Dynamic().Resource(ClusterResourceUsages).Patch(ctx, name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: kubetest.FieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("loop: setting the usage of %s: %w", ns, err)
	}
	return nil
}
