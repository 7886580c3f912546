// Checks of the container both colors run: spec.ports, spec.healthCheck,
// spec.env and spec.envFrom, and spec.resources.

package spec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ports checks each port and that no name, container port (per protocol)
// or Service port is used twice.
func (v *validator) ports() {
	ports := v.app.Spec.Ports
	if len(ports) == 0 {
		v.add("spec.ports", "at least one port is required")
		return
	}
	names, containerPorts, servicePorts := map[string]int{}, map[string]int{}, map[int32]int{}
	for i, p := range ports {
		path := indexPath("spec.ports", i)
		switch {
		case p.Name == "":
			v.add(path+".name", "required when there is more than one port")
		default:
			for _, msg := range validation.IsValidPortName(p.Name) {
				v.add(path+".name", "%q: %s", p.Name, msg)
			}
			if j, dup := names[p.Name]; dup {
				v.add(path+".name", "%q is also the name of spec.ports[%d]", p.Name, j)
			}
			names[p.Name] = i
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			v.add(path+".containerPort", "%d is not a port number (1-65535)", p.ContainerPort)
		}
		if p.ServicePort < 1 || p.ServicePort > 65535 {
			v.add(path+".servicePort", "%d is not a port number (1-65535)", p.ServicePort)
		}
		switch p.Protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			v.add(path+".protocol", "%q: expected TCP, UDP or SCTP", p.Protocol)
		}
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
		if j, dup := containerPorts[key]; dup {
			v.add(path+".containerPort", "%d is also used by spec.ports[%d]", p.ContainerPort, j)
		}
		containerPorts[key] = i
		if j, dup := servicePorts[p.ServicePort]; dup {
			v.add(path+".servicePort", "%d is also used by spec.ports[%d]", p.ServicePort, j)
		}
		servicePorts[p.ServicePort] = i
	}
}

// findPort returns the index of the port that ref names or numbers, or -1.
func (s *AppSpec) findPort(ref intstr.IntOrString) int {
	for i, p := range s.Ports {
		if ref.Type == intstr.String && p.Name == ref.StrVal || ref.Type == intstr.Int && p.ContainerPort == ref.IntVal {
			return i
		}
	}
	return -1
}

// healthCheck checks the probes' path, port and timings.
func (v *validator) healthCheck() {
	hc := v.app.Spec.HealthCheck
	if hc == nil {
		return
	}
	if !strings.HasPrefix(hc.Path, "/") {
		v.add("spec.healthCheck.path", "%q must start with /", hc.Path)
	}
	if len(v.app.Spec.Ports) > 0 && v.app.Spec.findPort(hc.Port) < 0 {
		var known []string
		for _, p := range v.app.Spec.Ports {
			known = append(known, fmt.Sprintf("%s (%d)", p.Name, p.ContainerPort))
		}
		v.add("spec.healthCheck.port", "%q is not a port of spec.ports; known ports: %s", hc.Port.String(), strings.Join(known, ", "))
	}
	for field, n := range map[string]int32{"initialDelaySeconds": hc.InitialDelaySeconds, "periodSeconds": hc.PeriodSeconds, "timeoutSeconds": hc.TimeoutSeconds, "failureThreshold": hc.FailureThreshold} {
		if n < 0 {
			v.add("spec.healthCheck."+field, "must not be negative, got %d", n)
		}
	}
}

// env checks the shared environment variables and envFrom sources.
func (v *validator) env() {
	v.envVars("spec.env", v.app.Spec.Env)
	v.envFrom("spec.envFrom", v.app.Spec.EnvFrom)
}

// envFrom checks a list of envFrom sources at path.
func (v *validator) envFrom(at string, list []corev1.EnvFromSource) {
	for i, e := range list {
		path := indexPath(at, i)
		switch {
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			v.add(path, "set configMapRef or secretRef, not both")
		case e.ConfigMapRef != nil:
			v.refName(path+".configMapRef.name", e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			v.refName(path+".secretRef.name", e.SecretRef.Name)
		default:
			v.add(path, "configMapRef or secretRef is required")
		}
	}
}

// envVars checks a list of environment variables at path.
func (v *validator) envVars(path string, env []corev1.EnvVar) {
	for i, e := range env {
		p := indexPath(path, i)
		if e.Name == "" {
			v.add(p+".name", "required")
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				v.add(p+".name", "%q: %s", e.Name, msg)
			}
		}
		if e.Value != "" && e.ValueFrom != nil {
			v.add(p, "set value or valueFrom, not both")
		}
	}
}

// resources checks that no request or limit is negative and no request is
// above its limit.
func (v *validator) resources() { v.resourceList("spec.resources", v.app.Spec.Resources) }

// resourceList checks the requests and limits of a container at path.
func (v *validator) resourceList(path string, r corev1.ResourceRequirements) {
	for name, q := range r.Requests {
		if q.Sign() < 0 {
			v.add(keyPath(path+".requests", string(name)), "must not be negative, got %s", q.String())
		}
		if limit, ok := r.Limits[name]; ok && q.Cmp(limit) > 0 {
			v.add(keyPath(path+".requests", string(name)), "request %s is more than the limit %s", q.String(), limit.String())
		}
	}
	for name, q := range r.Limits {
		if q.Sign() < 0 {
			v.add(keyPath(path+".limits", string(name)), "must not be negative, got %s", q.String())
		}
	}
}
