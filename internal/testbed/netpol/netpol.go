// Package netpol asks an independent NetworkPolicy engine — the policy
// matcher of cyclonus, a simulator written for network-policy conformance
// work — who may reach an app's pods, so that tests do not rely on
// bgrender's own reading of the rules it renders.
//
// The engine reads ipBlocks as matching every address, pod addresses
// included, as Calico does; that is the strictest reading of the
// NetworkPolicy API, and the one under which a rule for outside clients
// could admit the other color.
package netpol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	yaml "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Endpoint is one side of a connection: a pod (Namespace set) or an
// address outside the cluster.
type Endpoint struct {
	Name      string
	Namespace string
	Labels    map[string]string
	IP        string
}

// Pod returns an endpoint for a pod.
func Pod(name, namespace, ip string, labels map[string]string) Endpoint {
	return Endpoint{Name: name, Namespace: namespace, Labels: labels, IP: ip}
}

// External returns an endpoint for an address outside the cluster.
func External(name, ip string) Endpoint { return Endpoint{Name: name, IP: ip} }

func (e Endpoint) peer() *matcher.TrafficPeer {
	if e.Namespace == "" {
		return &matcher.TrafficPeer{IP: e.IP}
	}
	return &matcher.TrafficPeer{IP: e.IP, Internal: &matcher.InternalPeer{
		Namespace:       e.Namespace,
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": e.Namespace},
		PodLabels:       e.Labels,
	}}
}

// Port is a destination port.
type Port struct {
	Number   int
	Name     string
	Protocol corev1.Protocol
}

// Probe is one row of a reachability table.
type Probe struct {
	Name     string
	From, To Endpoint
	Port     Port
	Want     bool
}

// Engine answers whether traffic is allowed under a set of policies.
type Engine struct{ policy *matcher.Policy }

// New builds the engine over the policies.
func New(policies []*networkingv1.NetworkPolicy) *Engine {
	return &Engine{policy: matcher.BuildNetworkPolicies(false, policies)}
}

// Allowed reports whether from may open a connection to to on port.
func (e *Engine) Allowed(from, to Endpoint, port Port) bool {
	res := e.policy.IsTrafficAllowed(&matcher.Traffic{
		Source:           from.peer(),
		Destination:      to.peer(),
		ResolvedPort:     port.Number,
		ResolvedPortName: port.Name,
		Protocol:         port.Protocol,
	})
	return res.IsAllowed()
}

// Check evaluates every probe, fails the test for each row the engine
// answers otherwise, and logs the whole table.
func Check(t testing.TB, e *Engine, probes []Probe) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s %-8s %-8s\n", "traffic", "allowed", "want")
	for _, p := range probes {
		got := e.Allowed(p.From, p.To, p.Port)
		mark := ""
		if got != p.Want {
			mark = "  <-- wrong"
			t.Errorf("%s: allowed=%t, want %t", p.Name, got, p.Want)
		}
		fmt.Fprintf(&b, "%-44s %-8s %-8s%s\n", p.Name, yesNo(got), yesNo(p.Want), mark)
	}
	t.Logf("reachability:\n%s", b.String())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Stream is what a test needs of a rendered manifest stream.
type Stream struct {
	Policies    []*networkingv1.NetworkPolicy
	Deployments []*appsv1.Deployment
	Services    []*corev1.Service
	Ingresses   int
}

// Read decodes the NetworkPolicies, Deployments, Services and Ingresses of
// a YAML stream; other kinds are skipped.
func Read(data []byte) (*Stream, error) {
	s := &Stream{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		if doc == nil {
			continue
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		switch doc["kind"] {
		case "NetworkPolicy":
			var np networkingv1.NetworkPolicy
			err = json.Unmarshal(raw, &np)
			s.Policies = append(s.Policies, &np)
		case "Deployment":
			var d appsv1.Deployment
			err = json.Unmarshal(raw, &d)
			s.Deployments = append(s.Deployments, &d)
		case "Service":
			var svc corev1.Service
			err = json.Unmarshal(raw, &svc)
			s.Services = append(s.Services, &svc)
		case "Ingress", "HTTPRoute":
			s.Ingresses++
		}
		if err != nil {
			return nil, err
		}
	}
}

// Expect says what the rendered policies should admit, besides what never
// changes (the other color never; the same color and DNS always).
type Expect struct {
	// Strict: only the same color (and DNS) gets through.
	Strict bool
	// Egress: the pods may reach an outside database (10.20.0.5:5432).
	Egress bool
	// Also lists pods that an allowFrom admits.
	Also []Endpoint
	// Chart: the stream is a post-rendered chart, whose Deployments reach
	// each other color by color (blue calls blue).
	Chart bool
	// Gateways lists pods of a Gateway's data plane, each in its own
	// namespace, that reach both colors (an HTTPRoute's parentRefs).
	Gateways []Endpoint
	// NoIngressController: the stream's routes are HTTPRoutes of
	// spec.traffic.gateway, whose Gateways are admitted instead of the
	// ingress-nginx controller.
	NoIngressController bool
}

// Probes builds the table for every color of every Deployment of the
// stream whose pods carry colorLabel, with pod addresses drawn from
// 10.244.0.0/16 (the pod CIDR that the examples declare).
func Probes(s *Stream, colorLabel string, want Expect) []Probe {
	var probes []Probe
	ip := 10
	podIP := func() string { ip++; return fmt.Sprintf("10.244.%d.%d", ip/250, ip%250+2) }
	ingressCtl := Pod("ingress-nginx controller", "ingress-nginx", podIP(), map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"})
	prometheus := Pod("Prometheus in monitoring", "monitoring", podIP(), map[string]string{"app.kubernetes.io/name": "prometheus"})
	otherApp := Pod("another app in the namespace", "", podIP(), map[string]string{"app": "another-app", "app.kubernetes.io/name": "another-app"})
	elsewhere := Pod("a pod in another namespace", "elsewhere", podIP(), map[string]string{"app": "client"})
	dns := Pod("kube-dns", "kube-system", podIP(), map[string]string{"k8s-app": "kube-dns"})
	outside := External("a client outside the cluster", "203.0.113.7")
	viaNode := External("the load balancer, SNATed to a node", "192.168.49.2")
	database := External("an outside database", "10.20.0.5")

	pods := map[string]Endpoint{} // deployment name -> one pod
	for _, d := range s.Deployments {
		pods[d.Name] = Pod(d.Name, namespaceOf(d.Namespace), podIP(), d.Spec.Template.Labels)
	}
	for _, d := range s.Deployments {
		color := d.Spec.Template.Labels[colorLabel]
		if color == "" {
			continue
		}
		dst := pods[d.Name]
		var sibling *Endpoint // the other color's pod
		exposed := exposedBy(s.Services, d)
		for _, o := range s.Deployments {
			ol := o.Spec.Template.Labels
			if o.Namespace == d.Namespace && ol[colorLabel] != "" && ol[colorLabel] != color && sameExcept(ol, d.Spec.Template.Labels, colorLabel) {
				p := pods[o.Name]
				sibling = &p
				// Either color may be the one the Service routes to after
				// the next promotion, so both admit its clients: a flip
				// then needs no policy change.
				exposed = exposed || exposedBy(s.Services, o)
			}
		}
		ingress := s.Ingresses > 0 && !want.Strict && !want.NoIngressController
		exposed = exposed && !want.Strict
		other := otherApp
		other.Namespace = namespaceOf(d.Namespace)
		for _, port := range ports(d) {
			at := func(from Endpoint, ok bool) {
				probes = append(probes, Probe{Name: fmt.Sprintf("%s → %s:%d", from.Name, d.Name, port.Number), From: from, To: dst, Port: port, Want: ok})
			}
			at(ingressCtl, ingress)
			at(outside, exposed)
			at(viaNode, exposed)
			at(prometheus, !want.Strict)
			at(other, false)
			at(elsewhere, false)
			self := pods[d.Name]
			self.Name = "the same color"
			at(self, true)
			if sibling != nil {
				at(*sibling, false)
			}
			// The stream's other apps, of either color.
			for _, o := range s.Deployments {
				oc := o.Spec.Template.Labels[colorLabel]
				if o.Name == d.Name || oc == "" || namespaceOf(o.Namespace) != namespaceOf(d.Namespace) || sameExcept(o.Spec.Template.Labels, d.Spec.Template.Labels, colorLabel) {
					continue
				}
				at(pods[o.Name], want.Chart && oc == color)
			}
			for _, a := range want.Also {
				a.Namespace = namespaceOf(d.Namespace)
				at(a, true)
			}
			for _, g := range want.Gateways {
				at(g, !want.Strict)
			}
		}
		from := func(to Endpoint, p Port, ok bool) {
			probes = append(probes, Probe{Name: fmt.Sprintf("%s → %s:%d", d.Name, to.Name, p.Number), From: dst, To: to, Port: p, Want: ok})
		}
		from(dns, Port{Number: 53, Name: "dns", Protocol: corev1.ProtocolUDP}, true)
		from(database, Port{Number: 5432, Protocol: corev1.ProtocolTCP}, want.Egress)
	}
	return probes
}

// namespaceOf is where an object without a namespace lands when applied
// with a kubeconfig that names none.
func namespaceOf(ns string) string {
	if ns == "" {
		return corev1.NamespaceDefault
	}
	return ns
}

// sameExcept reports whether two label sets are equal but for key.
func sameExcept(a, b map[string]string, key string) bool {
	a, b = maps.Clone(a), maps.Clone(b)
	delete(a, key)
	delete(b, key)
	return maps.Equal(a, b)
}

func ports(d *appsv1.Deployment) []Port {
	var out []Port
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, Port{Number: int(p.ContainerPort), Name: p.Name, Protocol: proto})
		}
	}
	slices.SortFunc(out, func(a, b Port) int { return a.Number - b.Number })
	if len(out) == 0 { // a chart that declares no ports: probe one
		out = append(out, Port{Number: 8080, Protocol: corev1.ProtocolTCP})
	}
	return out
}

// exposedBy reports whether a LoadBalancer or NodePort Service selects the
// pods of d.
func exposedBy(svcs []*corev1.Service, d *appsv1.Deployment) bool {
	for _, svc := range svcs {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeNodePort {
			continue
		}
		if namespaceOf(svc.Namespace) != namespaceOf(d.Namespace) || len(svc.Spec.Selector) == 0 {
			continue
		}
		match := true
		for k, v := range svc.Spec.Selector {
			if d.Spec.Template.Labels[k] != v {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}
