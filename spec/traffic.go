// Checks of spec.traffic: the weight that splits requests between the
// colors, the header that picks one, and the one way they are routed, a
// Gateway API HTTPRoute (gateway) or an ingress-nginx canary (nginx).

package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// traffic checks the split, then the route that carries it.
func (v *validator) traffic() {
	tr := v.app.Spec.Traffic
	if tr == nil {
		return
	}
	v.trafficSplit(tr)
	switch {
	case tr.Gateway != nil && tr.NGINX != nil:
		v.add("spec.traffic.nginx", "set either gateway or nginx, not both: traffic is routed one way")
	case tr.NGINX != nil:
		v.nginx()
	case tr.Gateway != nil:
		v.gateway(tr.Gateway)
	default:
		v.add("spec.traffic", "name how traffic is routed: gateway (the Gateway API) or nginx (an ingress-nginx canary Ingress)")
	}
}

// trafficSplit checks the weight, the canary color and the header.
func (v *validator) trafficSplit(tr *TrafficSpec) {
	if w := *tr.Weight; w < 0 || w > 100 {
		v.add("spec.traffic.weight", "%d is not a percentage (0-100)", w)
	} else if to := v.app.Spec.Shifted(); w > 0 && to.Valid() && v.app.Spec.ReplicasOf(to) == 0 {
		v.add("spec.traffic.weight", "%d%% of requests would go to %s, which runs 0 replicas (idleReplicas); scale it up or set the weight to 0", w, to)
	}
	if c := tr.CanaryColor; c != "" {
		switch {
		case !c.Valid():
			v.add("spec.traffic.canaryColor", "%q: want blue or green", c)
		case tr.NGINX == nil:
			v.add("spec.traffic.canaryColor", "only with nginx: it names the color of the canary Ingress")
		case c != v.app.Spec.Active || *tr.Weight != 100:
			v.add("spec.traffic.canaryColor", "%s: promote --steps writes it, as the active color with weight 100, for the one commit of a hand-over; remove it", c)
		}
	}
	if len(tr.Header) > 256 {
		v.add("spec.traffic.header", "is %d characters long, more than the Gateway API's 256", len(tr.Header))
	}
	for _, msg := range validation.IsHTTPHeaderName(tr.Header) {
		v.add("spec.traffic.header", "%q: %s", tr.Header, msg)
	}
}

// nginx checks that the canary Ingress has a main Ingress to copy, one
// that does not carry canary annotations itself.
func (v *validator) nginx() {
	ing := v.app.Spec.Ingress
	if ing == nil {
		v.add("spec.traffic.nginx", "requires spec.ingress: the canary Ingress reuses its className, host, path and tls")
		return
	}
	var canary []string
	for k := range ing.Annotations {
		if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/canary") {
			canary = append(canary, k)
		}
	}
	sort.Strings(canary)
	for _, k := range canary {
		v.add("spec.ingress.annotations", "%s: with traffic.nginx bgrender writes the canary annotations on the Ingress %s-canary; the main Ingress must not carry them", k, v.app.Metadata.Name)
	}
}

// gateway checks the HTTPRoute's parentRefs (and that the app's namespace
// is known when a Gateway is in another), hostnames and path.
func (v *validator) gateway(g *GatewayRouteSpec) {
	if len(g.ParentRefs) == 0 {
		v.add("spec.traffic.gateway.parentRefs", "required: the Gateway the route attaches to")
	}
	if len(g.ParentRefs) > 32 {
		v.add("spec.traffic.gateway.parentRefs", "%d entries, more than the Gateway API's 32", len(g.ParentRefs))
	}
	if len(g.Hostnames) > 16 {
		v.add("spec.traffic.gateway.hostnames", "%d entries, more than the Gateway API's 16", len(g.Hostnames))
	}
	seen, elsewhere := map[string]int{}, map[string]bool{}
	for i, p := range g.ParentRefs {
		path := indexPath("spec.traffic.gateway.parentRefs", i)
		key := listener(p)
		if j, dup := seen[key]; dup {
			v.add(path, "names the same Gateway listener as parentRefs[%d]; give each a distinct sectionName or port", j)
		}
		seen[key] = i
		if p.Namespace != "" && v.app.Metadata.Namespace == "" && !elsewhere[p.Namespace] {
			elsewhere[p.Namespace] = true
			v.add("metadata.namespace", "required with a parentRef in namespace %s: the NetworkPolicies admit the Gateway's namespace, and could not tell it from the app's own", p.Namespace)
		}
		v.parentRef(path, p)
	}
	for i, h := range g.Hostnames {
		v.host(indexPath("spec.traffic.gateway.hostnames", i), h, true)
	}
	switch {
	case !strings.HasPrefix(g.Path, "/"):
		v.add("spec.traffic.gateway.path", "%q must start with /", g.Path)
	case len(g.Path) > 1024:
		v.add("spec.traffic.gateway.path", "is %d characters long, more than the Gateway API's 1024", len(g.Path))
	case strings.Contains(g.Path, "//") || strings.ContainsAny(g.Path, "#?%") || strings.Contains(g.Path, "/./") || strings.Contains(g.Path, "/../") || strings.HasSuffix(g.Path, "/.") || strings.HasSuffix(g.Path, "/.."):
		v.add("spec.traffic.gateway.path", "%q: a path prefix without //, /./, /../, #, ? or %%", g.Path)
	}
}

// listener identifies the Gateway listener that p names: two parentRefs
// with the same key attach the route to it twice.
func listener(p ParentRef) string {
	port := "-"
	if p.Port != nil {
		port = strconv.Itoa(int(*p.Port))
	}
	return fmt.Sprintf("%q/%q/%q/%s", p.Namespace, p.Name, p.SectionName, port)
}

// parentRef checks one parentRef's fields.
func (v *validator) parentRef(path string, p ParentRef) {
	if p.Name == "" {
		v.add(path+".name", "required")
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(p.Name) {
			v.add(path+".name", "%q: %s", p.Name, msg)
		}
	}
	if p.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(p.Namespace) {
			v.add(path+".namespace", "%q: %s", p.Namespace, msg)
		}
	}
	if p.SectionName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(p.SectionName) {
			v.add(path+".sectionName", "%q: %s", p.SectionName, msg)
		}
	}
	if p.Port != nil && (*p.Port < 1 || *p.Port > 65535) {
		v.add(path+".port", "%d is not a port number (1-65535)", *p.Port)
	}
}
