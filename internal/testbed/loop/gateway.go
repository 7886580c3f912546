package loop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// The Gateway the bed runs: Traefik's Kubernetes Gateway provider, and the
// GatewayClass and Gateway it serves. The Gateway is not the examples'
// gateway-system/public: stories that play a Gateway controller
// themselves for routes to public (e2e/loop's actAsGateway, for pods
// that do not serve) must not meet a second controller writing the same
// routes' status.
const (
	// TraefikVersion is the Traefik that hack/install-tools.sh builds
	// (hack/tools/traefik).
	TraefikVersion = "v3.6.12"
	// GatewayAPIVersion is the Gateway API whose standard-channel CRDs the
	// bed applies, from the Go module cache (hack/install-tools.sh
	// gateway-api-crds).
	GatewayAPIVersion = "v1.6.3"

	// GatewayClassName is the bed's GatewayClass, whose controller is
	// Traefik (TraefikController).
	GatewayClassName = "traefik"
	// TraefikController is the controllerName Traefik's provider serves.
	TraefikController = "traefik.io/gateway-controller"
	// GatewayNamespace and GatewayName name the bed's Gateway. Its one
	// listener, "http", takes HTTPRoutes of every namespace, for any
	// hostname, on GatewayPort.
	GatewayNamespace = "gateway-system"
	GatewayName      = "traefik"
	// GatewayPort is the listener's port: Traefik's entrypoint "web"
	// listens on NodeIP:GatewayPort in the node's network namespace.
	GatewayPort = 80

	gatewayAPIModule    = "sigs.k8s.io/gateway-api"
	gatewayCRDFolder    = "config/crd/standard"
	traefikAPI          = "127.0.0.1:9000" // Traefik's own entrypoint (ping, API), in the node namespace
	traefikStop         = 3 * time.Second
	providersThrottle   = "500ms"
	gatewayListenerName = "http"
)

var (
	gatewaysGVR       = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gatewayClassesGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
)

// Traefik is the bed's real Gateway: Traefik, run inside the data plane
// node's network namespace (so it reaches pod addresses as a node would,
// and listens where the load generator's clients are), serving the
// Gateway GatewayNamespace/GatewayName. See the package documentation.
type Traefik struct {
	proc  *kubetest.Process
	node  *DataNode
	ready time.Duration
}

// Gateway returns the bed's Gateway, nil unless it was started (Require
// with Gateway, or StartGateway).
func (c *Cluster) Traefik() *Traefik {
	c.gwMu.Lock()
	defer c.gwMu.Unlock()
	return c.gw
}

// findGateway checks what the Gateway needs beyond the data plane: Traefik
// in .tools/bin and the Gateway API's CRD files in the Go module cache.
func findGateway() (bin string, crds []string, err error) {
	return toolAndCRDs("traefik", "Gateway API CRDs", gatewayAPIModule, GatewayAPIVersion, gatewayCRDFolder, "*.yaml")
}

// StartGateway starts the Gateway if it does not run yet, and the data
// plane first if needed: it applies the Gateway API's standard-channel
// CRDs, starts Traefik in the node's namespace (its Kubernetes Gateway
// provider reaching the API server through the data plane's forwarder),
// applies the GatewayClass and the Gateway, and waits until Traefik has
// accepted the class and programmed the Gateway. ctx only bounds start-up.
func (c *Cluster) StartGateway(ctx context.Context) (retErr error) {
	if err := c.StartDataPlane(ctx); err != nil {
		return err
	}
	c.gwMu.Lock()
	defer c.gwMu.Unlock()
	if c.gw != nil {
		return nil
	}
	bin, crdFiles, err := findGateway()
	if err != nil {
		return err
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := c.applyGatewayCRDs(ctx, crdFiles); err != nil {
		return err
	}
	gw := &Traefik{node: c.DataPlane()}
	defer func() {
		if retErr != nil {
			gw.proc.Stop(0)
		}
	}()
	if err := gw.start(bin, c.Dir()); err != nil {
		return err
	}
	if err := waitHealthyVia(ctx, gw.proc, "http://"+traefikAPI+"/ping", gw.node.HTTPClient(2*time.Second)); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	if err := c.CreateNamespace(ctx, GatewayNamespace, nil); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := c.ApplyYAML(ctx, []byte(gatewayObjects)); err != nil {
		return fmt.Errorf("loop: applying the GatewayClass and the Gateway: %w", err)
	}
	if err := c.waitGatewayProgrammed(ctx, gw); err != nil {
		return err
	}
	gw.ready = time.Since(began)
	c.gw = gw
	return nil
}

// applyGatewayCRDs applies the CRDs of the files (the safe-upgrades
// ValidatingAdmissionPolicy beside them is left out: it is not a CRD) and
// waits until they are established.
func (c *Cluster) applyGatewayCRDs(ctx context.Context, files []string) error {
	var crds []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("loop: %w", err)
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("loop: %s: %w", f, err)
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o)
			}
		}
	}
	if err := c.Apply(ctx, crds); err != nil {
		return fmt.Errorf("loop: applying the Gateway API's CRDs: %w", err)
	}
	for _, crd := range crds {
		if err := c.waitEstablished(ctx, crd.GetName()); err != nil {
			return err
		}
	}
	c.RESTMapper().Reset()
	return nil
}

// gatewayObjects are the GatewayClass and the Gateway the bed applies.
var gatewayObjects = fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: %[1]s
spec:
  controllerName: %[2]s
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: %[3]s
  namespace: %[4]s
spec:
  gatewayClassName: %[1]s
  listeners:
    - name: %[6]s
      protocol: HTTP
      port: %[5]d
      allowedRoutes:
        namespaces:
          from: All
`, GatewayClassName, TraefikController, GatewayName, GatewayNamespace, GatewayPort, gatewayListenerName)

// start runs Traefik with `ip netns exec` in the node's namespace: the
// entrypoint "web" on NodeIP:GatewayPort (Traefik maps a Gateway listener
// to the entrypoint whose address ends in the listener's port), its own
// entrypoint "traefik" on loopback for /ping and the read-only API, the
// Kubernetes Gateway provider (KUBECONFIG: the data plane's, through the
// forwarder), and the Gateway's status address NodeIP. Nothing calls
// home: no version check, no usage reports.
func (gw *Traefik) start(bin, dir string) error {
	kubeconfig, err := gw.node.writeKubeconfig("traefik.kubeconfig")
	if err != nil {
		return err
	}
	ipCmd, err := lookSbin("ip")
	if err != nil {
		return err
	}
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig)
	gw.proc, err = kubetest.StartProcess("traefik", ipCmd, filepath.Join(dir, "traefik.log"), env,
		"netns", "exec", gw.node.name, bin,
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		fmt.Sprintf("--entryPoints.web.address=%s:%d", NodeIP, GatewayPort),
		// A stop need not drain: the bed is going away.
		"--entryPoints.web.transport.lifeCycle.graceTimeOut=0s",
		"--entryPoints.traefik.address="+traefikAPI,
		"--ping=true",
		"--api=true",
		"--api.insecure=true",
		"--api.dashboard=false",
		"--providers.kubernetesGateway=true",
		"--providers.kubernetesGateway.statusAddress.ip="+NodeIP,
		// Traefik waits this long after a provider's change before it
		// applies the new configuration (default 2 s).
		"--providers.providersThrottleDuration="+providersThrottle,
		"--log.level=INFO",
		"--log.noColor=true",
	)
	return err
}

// waitGatewayProgrammed waits until Traefik reports the Gateway Programmed
// (it has an entrypoint for the listener, and the status address).
func (c *Cluster) waitGatewayProgrammed(ctx context.Context, gw *Traefik) error {
	var last string
	return poll(ctx, func() (bool, error) {
		if gw.proc.Exited() {
			return false, fmt.Errorf("traefik exited (%v)", gw.proc.Err())
		}
		u, err := c.Dynamic().Resource(gatewaysGVR).Namespace(GatewayNamespace).Get(ctx, GatewayName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		last = fmt.Sprint(conds)
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Programmed" && m["status"] == "True" && m["observedGeneration"] == u.GetGeneration() {
				return true, nil
			}
		}
		return false, nil
	}, func(err error) error {
		return fmt.Errorf("loop: Gateway %s/%s not programmed: %w (conditions: %s); last lines of traefik.log:\n%s",
			GatewayNamespace, GatewayName, err, last, gw.proc.LogTail(logTailLines))
	})
}

// Addr is the Gateway's address, NodeIP:GatewayPort, in the node's
// namespace (dial it with DataNode.DialFrom, as load.Config's Dial).
func (gw *Traefik) Addr() string { return net.JoinHostPort(NodeIP, fmt.Sprint(GatewayPort)) }

// URL is http://Addr/.
func (gw *Traefik) URL() string { return "http://" + gw.Addr() + "/" }

// StartupTime is how long the Gateway took to start (CRDs, Traefik, the
// Gateway programmed).
func (gw *Traefik) StartupTime() time.Duration { return gw.ready }

// LogTail returns the end of Traefik's log.
func (gw *Traefik) LogTail(n int) string { return gw.proc.LogTail(n) }

// Split is one weighted service of Traefik's running configuration: what
// one rule of an HTTPRoute sends where, as Traefik applies it.
type Split struct {
	// Rule is Traefik's router rule (e.g. Host(`a`) && PathPrefix(`/`),
	// with && Header(`x`, `v`) for a rule that matches a header).
	Rule string
	// Weights are by backend Service name (of the route's namespace).
	Weights map[string]int
}

// RouteSplits reads, from Traefik's API, the weighted services of the
// HTTPRoute ns/name as Traefik runs them now: the configuration its
// routers use, which lags the route's status (Traefik reports a route
// Accepted when its provider reads it, and applies the configuration
// after --providers.providersThrottleDuration). Sorted by rule.
func (gw *Traefik) RouteSplits(ctx context.Context, ns, name string) ([]Split, error) {
	client := gw.node.HTTPClient(2 * time.Second)
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+traefikAPI+"/api/rawdata", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loop: Traefik's API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loop: Traefik's API: %s %v", resp.Status, err)
	}
	return routeSplits(body, ns, name)
}

// RouteShare is backend's share, in percent, of the main rule of the
// HTTPRoute ns/name (its rule that matches no header: not the testers')
// as Traefik runs it now; false when Traefik does not run the route or
// the rule sends nowhere.
func (gw *Traefik) RouteShare(ctx context.Context, ns, name, backend string) (float64, bool) {
	splits, err := gw.RouteSplits(ctx, ns, name)
	if err != nil {
		return 0, false
	}
	for _, s := range splits {
		if strings.Contains(s.Rule, "Header") {
			continue
		}
		total := 0
		for _, w := range s.Weights {
			total += w
		}
		if total == 0 {
			return 0, false
		}
		return 100 * float64(s.Weights[backend]) / float64(total), true
	}
	return 0, false
}

// routeSplits picks the route's routers out of Traefik's /api/rawdata and
// the weights of their weighted services. The provider names a router
// httproute-NS-NAME-gw-… and a backend NS-SERVICE-http-PORT (normalized:
// see Traefik's pkg/provider/kubernetes/gateway/httproute.go).
func routeSplits(rawdata []byte, ns, name string) ([]Split, error) {
	var raw struct {
		Routers map[string]struct {
			Rule    string `json:"rule"`
			Service string `json:"service"`
		} `json:"routers"`
		Services map[string]struct {
			Weighted *struct {
				Services []struct {
					Name   string `json:"name"`
					Weight *int   `json:"weight"`
				} `json:"services"`
			} `json:"weighted"`
		} `json:"services"`
	}
	if err := json.Unmarshal(rawdata, &raw); err != nil {
		return nil, fmt.Errorf("loop: Traefik's /api/rawdata: %w", err)
	}
	const provider = "@kubernetesgateway"
	prefix := "httproute-" + ns + "-" + name + "-gw-"
	var splits []Split
	for key, r := range raw.Routers {
		if !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, provider) {
			continue
		}
		svcKey := r.Service
		if !strings.Contains(svcKey, "@") {
			svcKey += provider
		}
		svc, ok := raw.Services[svcKey]
		if !ok || svc.Weighted == nil {
			continue
		}
		s := Split{Rule: r.Rule, Weights: map[string]int{}}
		for _, b := range svc.Weighted.Services {
			backend := strings.TrimSuffix(b.Name, provider)
			backend = strings.TrimPrefix(backend, ns+"-")
			if i := strings.LastIndex(backend, "-http-"); i >= 0 {
				backend = backend[:i]
			}
			w := 1
			if b.Weight != nil {
				w = *b.Weight
			}
			s.Weights[backend] = w
		}
		splits = append(splits, s)
	}
	slices.SortFunc(splits, func(a, b Split) int { return strings.Compare(a.Rule, b.Rule) })
	return splits, nil
}

// stop stops Traefik.
func (gw *Traefik) stop() {
	if gw != nil {
		gw.proc.Stop(traefikStop)
	}
}
