package render

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// tmpVolume is the writable scratch space mounted at /tmp, since the root
// filesystem is read-only by default.
const tmpVolume = "tmp"

// Deployments renders <name>-blue and <name>-green: identical but for the
// color label, the image, the replica count and the per-color env.
func Deployments(app *spec.BlueGreenApp) []Object {
	objs := make([]Object, 0, len(spec.Colors))
	for _, c := range spec.Colors {
		objs = append(objs, Deployment(app, c))
	}
	return objs
}

// Deployment renders the Deployment of one color. With autoscaling it has
// no replicas: the color's HPA owns that field, and a GitOps agent that
// applied one would undo every scaling (endless drift).
func Deployment(app *spec.BlueGreenApp, c spec.Color) *appsv1.Deployment {
	s := &app.Spec
	var replicas *int32
	if !s.Autoscaled() {
		replicas = ptr.To(s.ReplicasOf(c))
	}
	return &appsv1.Deployment{
		TypeMeta: typeMeta(appsv1.SchemeGroupVersion, "Deployment"),
		ObjectMeta: metav1.ObjectMeta{
			Name:   colorName(app, c),
			Labels: colorLabels(app, c),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       s.MaxSurge,
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels(app, c),
					Annotations: s.PodAnnotations,
				},
				Spec: podSpec(app, c),
			},
		},
	}
}

func podSpec(app *spec.BlueGreenApp, c spec.Color) corev1.PodSpec {
	s := &app.Spec
	sc := s.SecurityContext
	sched := s.SchedulingOf(c)
	return corev1.PodSpec{
		NodeSelector:                  sched.NodeSelector,
		Tolerations:                   sched.Tolerations,
		Affinity:                      sched.Affinity,
		PriorityClassName:             sched.PriorityClassName,
		TopologySpreadConstraints:     topologySpread(app, c),
		ServiceAccountName:            app.Metadata.Name,
		AutomountServiceAccountToken:  ptr.To(false),
		TerminationGracePeriodSeconds: s.Drain.TerminationGracePeriodSeconds,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      sc.RunAsUser,
			RunAsGroup:     sc.RunAsGroup,
			FSGroup:        sc.FSGroup,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{container(app, c)},
		Volumes: []corev1.Volume{{
			Name:         tmpVolume,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
		}},
	}
}

func container(app *spec.BlueGreenApp, c spec.Color) corev1.Container {
	s := &app.Spec
	ctr := corev1.Container{
		Name:      s.ContainerName,
		Image:     s.ColorSpecOf(c).Image,
		Env:       mergeEnv(s.Env, s.ColorSpecOf(c).Env),
		EnvFrom:   s.EnvFrom,
		Resources: s.Resources,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   s.SecurityContext.ReadOnlyRootFilesystem,
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: tmpVolume, MountPath: "/tmp"}},
	}
	for _, p := range s.Ports {
		ctr.Ports = append(ctr.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	if hc := s.HealthCheck; hc != nil {
		probe := &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: hc.Path, Port: hc.Port},
			},
			InitialDelaySeconds: hc.InitialDelaySeconds,
			PeriodSeconds:       hc.PeriodSeconds,
			TimeoutSeconds:      hc.TimeoutSeconds,
			FailureThreshold:    hc.FailureThreshold,
		}
		ctr.ReadinessProbe = probe
		if hc.Liveness {
			ctr.LivenessProbe = probe.DeepCopy()
		}
	}
	if sleep := *s.Drain.PreStopSleepSeconds; sleep > 0 {
		ctr.Lifecycle = &corev1.Lifecycle{
			PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: sleep}},
		}
	}
	return ctr
}

// mergeEnv appends the color's variables to the shared ones; a color
// variable replaces a shared variable of the same name in place.
func mergeEnv(shared, color []corev1.EnvVar) []corev1.EnvVar {
	if len(color) == 0 {
		return shared
	}
	out := make([]corev1.EnvVar, 0, len(shared)+len(color))
	index := map[string]int{}
	for _, e := range shared {
		index[e.Name] = len(out)
		out = append(out, e)
	}
	for _, e := range color {
		if i, ok := index[e.Name]; ok {
			out[i] = e
			continue
		}
		index[e.Name] = len(out)
		out = append(out, e)
	}
	return out
}

// Topology keys of the default spread.
const (
	TopologyZone = "topology.kubernetes.io/zone"
	TopologyNode = "kubernetes.io/hostname"
)

// topologySpread returns the spread constraints of a color's pods: the
// spec's, each without a labelSelector given the color's, or by default
// across zones and then nodes, never blocking scheduling. The pod template
// does not depend on the replica count, so that scaling a color (a promote
// with idleReplicas) never restarts its pods.
func topologySpread(app *spec.BlueGreenApp, c spec.Color) []corev1.TopologySpreadConstraint {
	selector := &metav1.LabelSelector{MatchLabels: SelectorLabels(app, c)}
	tscs := app.Spec.TopologySpreadConstraints
	if tscs == nil {
		tscs = []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: TopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway},
			{MaxSkew: 1, TopologyKey: TopologyNode, WhenUnsatisfiable: corev1.ScheduleAnyway},
		}
	}
	if len(tscs) == 0 {
		return nil
	}
	out := make([]corev1.TopologySpreadConstraint, len(tscs))
	for i, tsc := range tscs {
		out[i] = *tsc.DeepCopy()
		if out[i].LabelSelector == nil {
			out[i].LabelSelector = selector.DeepCopy()
		}
	}
	return out
}
