package rollouts

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// Note is something of the input that Import could not map, located by
// file, line and field like a spec problem.
type Note = spec.FieldError

// Import reads one Rollout with a blueGreen strategy, the Services it
// names and the AnalysisTemplates its analyses use, from the documents of
// the files, and returns the BlueGreenApp that renders the same app. What
// it cannot map is returned as notes; a Rollout with a canary strategy or a
// workloadRef, no Rollout, several, or a malformed one is an error (a
// spec.ErrorList naming file, line and field).
func Import(files []File) (*spec.BlueGreenApp, []*Note, error) {
	docs, errs := readDocuments(files)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	im := &importer{services: map[string]*document{}, templates: map[string]*document{}}
	var rollouts []*document
	for _, d := range docs {
		switch {
		case d.kind == "Rollout" && d.apiVersion == GroupVersion.String():
			rollouts = append(rollouts, d)
		case d.kind == "Service" && d.apiVersion == "v1":
			im.services[d.name] = d
		case (d.kind == "AnalysisTemplate" || d.kind == "ClusterAnalysisTemplate") && d.apiVersion == GroupVersion.String():
			im.templates[d.kind+"/"+d.name] = d
		default:
			im.others = append(im.others, d)
		}
	}
	switch len(rollouts) {
	case 0:
		return nil, nil, spec.ErrorList{{File: files[len(files)-1].Name, Msg: "no Rollout (argoproj.io/v1alpha1) found in the input"}}
	case 1:
	default:
		return nil, nil, spec.ErrorList{rollouts[1].errorf("kind", "a second Rollout (%s); import one app at a time", rollouts[1].name)}
	}
	app, err := im.rollout(rollouts[0])
	if err != nil {
		return nil, nil, err
	}
	// A template that both analyses run is read twice; say things once.
	var notes []*Note
	seen := map[Note]bool{}
	for _, n := range im.notes {
		if !seen[*n] {
			seen[*n] = true
			notes = append(notes, n)
		}
	}
	// In the order of the input: file by file, line by line.
	order := map[string]int{}
	for i, f := range files {
		order[f.Name] = i
	}
	slices.SortStableFunc(notes, func(a, b *Note) int {
		return cmp.Or(cmp.Compare(order[a.File], order[b.File]), cmp.Compare(a.Line, b.Line))
	})
	return app, notes, nil
}

type importer struct {
	services  map[string]*document
	templates map[string]*document
	others    []*document
	notes     []*Note
	used      map[*document]bool
}

func (im *importer) note(d *document, path, format string, args ...any) {
	im.notes = append(im.notes, d.errorf(path, format, args...))
}

func (im *importer) rollout(d *document) (*spec.BlueGreenApp, error) {
	var ro Rollout
	unknown, errs := d.decodeInto(&ro, []string{"spec.template", "spec.selector", "metadata"})
	if len(errs) > 0 {
		return nil, errs
	}
	bg := ro.Spec.Strategy.BlueGreen
	switch {
	case ro.Spec.WorkloadRef != nil:
		return nil, spec.ErrorList{d.errorf("spec.workloadRef", "the Rollout takes its pods from %s %s; import the Rollout with its own spec.template (bgrender renders the Deployments itself)", ro.Spec.WorkloadRef.Kind, ro.Spec.WorkloadRef.Name)}
	case len(ro.Spec.Strategy.Canary) > 0:
		return nil, spec.ErrorList{d.errorf("spec.strategy.canary", "a canary strategy cannot be imported: bgrender renders blue/green releases (spec.strategy.blueGreen)")}
	case bg == nil:
		return nil, spec.ErrorList{d.errorf("spec.strategy", "missing blueGreen: bgrender imports a Rollout with a blueGreen strategy")}
	case bg.ActiveService == "":
		return nil, spec.ErrorList{d.errorf("spec.strategy.blueGreen.activeService", "missing: the Service that routes to the active ReplicaSet")}
	case ro.Name == "":
		return nil, spec.ErrorList{d.errorf("metadata.name", "missing")}
	case ro.Spec.Selector == nil || len(ro.Spec.Selector.MatchLabels) == 0:
		return nil, spec.ErrorList{d.errorf("spec.selector", "missing matchLabels: bgrender selects the app's pods by labels")}
	case len(ro.Spec.Template.Spec.Containers) == 0:
		return nil, spec.ErrorList{d.errorf("spec.template.spec.containers", "missing: the Rollout runs no container")}
	}
	for _, p := range unknown {
		im.note(d, p, "not mapped: bgrender has no counterpart of this field")
	}

	name := ro.Name
	if bg.PreviewService == bg.ActiveService+"-preview" {
		name = bg.ActiveService
	}
	app := &spec.BlueGreenApp{
		APIVersion: spec.APIVersion,
		Kind:       spec.Kind,
		Metadata: spec.ObjectMeta{
			Name:        name,
			Namespace:   ro.Namespace,
			Labels:      ownLabels(ro.Labels, name),
			Annotations: ro.Annotations,
		},
	}
	s := &app.Spec
	if bg.ActiveService != name {
		im.note(d, "spec.strategy.blueGreen.activeService", "%q: bgrender names the active Service after the app, %s", bg.ActiveService, name)
	}
	switch bg.PreviewService {
	case name + "-preview":
	case "":
		im.note(d, "spec.strategy.blueGreen.previewService", "missing: bgrender renders a preview Service %s-preview", name)
	default:
		im.note(d, "spec.strategy.blueGreen.previewService", "%q: bgrender names the preview Service %s-preview", bg.PreviewService, name)
	}
	if len(ro.Spec.Selector.MatchExpressions) > 0 {
		im.note(d, "spec.selector.matchExpressions", "not mapped: bgrender selects by matchLabels only")
	}
	if sel := ro.Spec.Selector.MatchLabels; !maps.Equal(sel, map[string]string{spec.DefaultNameLabel: name}) {
		s.SelectorLabels = sel
	}
	s.Replicas = ro.Spec.Replicas
	if n := bg.PreviewReplicaCount; n != nil {
		s.IdleReplicas = ptr.To(*n)
	}
	if sd := bg.ScaleDownDelaySeconds; sd != nil {
		switch {
		case *sd == 0 && s.IdleReplicas == nil:
			s.IdleReplicas = ptr.To(int32(0))
		default:
			im.note(d, "spec.strategy.blueGreen.scaleDownDelaySeconds", "not mapped: bgrender keeps the previous color at idleReplicas after a promotion (scale-idle scales it down)")
		}
	}
	if bg.AutoPromotionEnabled == nil || *bg.AutoPromotionEnabled {
		im.note(d, "spec.strategy.blueGreen", "autoPromotionEnabled is true (Argo Rollouts' default): bgrender never promotes by itself; a promotion is a commit (bgrender promote)")
	}
	if bg.AutoPromotionSeconds > 0 {
		im.note(d, "spec.strategy.blueGreen.autoPromotionSeconds", "not mapped: bgrender never promotes when a timer runs out")
	}
	im.podTemplate(d, app, &ro)
	im.activeService(d, app, bg.ActiveService, ro.Spec.Selector.MatchLabels)
	im.previewService(d, bg.PreviewService, ro.Spec.Selector.MatchLabels)
	im.gates(d, app, &ro)
	for _, o := range im.others {
		im.other(o, app, &ro, bg)
	}
	return app, nil
}

// ownLabels drops the labels that render adds to every object.
func ownLabels(labels map[string]string, name string) map[string]string {
	out := maps.Clone(labels)
	if out[render.LabelName] == name {
		delete(out, render.LabelName)
	}
	if out[render.LabelManagedBy] == render.ManagedBy {
		delete(out, render.LabelManagedBy)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// podTemplate maps the Rollout's pod template onto the spec: the first
// container, its probes, drain and security settings, and the scheduling.
// Both colors get the template's image.
func (im *importer) podTemplate(d *document, app *spec.BlueGreenApp, ro *Rollout) {
	const tp = "spec.template"
	s := &app.Spec
	tmpl := ro.Spec.Template.DeepCopy()
	pod := &tmpl.Spec
	ctr := pod.Containers[0]
	if len(pod.Containers) > 1 {
		im.note(d, tp+".spec.containers[1]", "not mapped: bgrender renders one container (%s); the others are dropped", ctr.Name)
	}
	if len(pod.InitContainers) > 0 {
		im.note(d, tp+".spec.initContainers", "not mapped: bgrender renders no init containers")
	}
	if ctr.Name != app.Metadata.Name {
		s.ContainerName = ctr.Name
	}
	s.Blue.Image, s.Green.Image = ctr.Image, ctr.Image
	if ctr.Image == "" {
		im.note(d, tp+".spec.containers[0].image", "missing: set spec.blue.image and spec.green.image")
	}
	for _, p := range ctr.Ports {
		port := spec.Port{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: p.Protocol}
		if port.Protocol == corev1.ProtocolTCP {
			port.Protocol = ""
		}
		s.Ports = append(s.Ports, port)
	}
	s.Env, s.EnvFrom, s.Resources = ctr.Env, ctr.EnvFrom, ctr.Resources
	im.probes(d, app, &ctr)
	if l := ctr.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		if l.PreStop.Sleep.Seconds != spec.DefaultPreStopSleepSeconds {
			s.Drain.PreStopSleepSeconds = ptr.To(l.PreStop.Sleep.Seconds)
		}
	} else {
		if l != nil && (l.PreStop != nil || l.PostStart != nil) {
			im.note(d, tp+".spec.containers[0].lifecycle", "not mapped: bgrender's only hook is a preStop sleep (drain.preStopSleepSeconds)")
		}
		s.Drain.PreStopSleepSeconds = ptr.To(int64(0))
	}
	if g := pod.TerminationGracePeriodSeconds; g != nil && *g != spec.DefaultGracePeriodSeconds {
		s.Drain.TerminationGracePeriodSeconds = ptr.To(*g)
	}
	im.security(d, app, pod, &ctr)
	s.Scheduling = spec.Scheduling{
		NodeSelector:      pod.NodeSelector,
		Tolerations:       pod.Tolerations,
		Affinity:          pod.Affinity,
		PriorityClassName: pod.PriorityClassName,
	}
	s.TopologySpreadConstraints = im.spread(app, ro, pod.TopologySpreadConstraints)
	if len(tmpl.Annotations) > 0 {
		s.PodAnnotations = tmpl.Annotations
	}
	for k, v := range tmpl.Labels {
		if ro.Spec.Selector.MatchLabels[k] != v && app.Metadata.Labels[k] != v && !(k == render.LabelName && v == app.Metadata.Name) {
			im.note(d, tp+".metadata.labels", "%s: not mapped: bgrender labels the pods with the selector labels and metadata.labels", k)
		}
	}
	if pod.ServiceAccountName != "" && pod.ServiceAccountName != app.Metadata.Name {
		im.note(d, tp+".spec.serviceAccountName", "%q: bgrender runs the pods as the ServiceAccount %s, which it renders", pod.ServiceAccountName, app.Metadata.Name)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		im.note(d, tp+".spec", "automountServiceAccountToken: bgrender does not mount a token into the pods")
	}
	for i, v := range pod.Volumes {
		if v.Name == "tmp" && v.EmptyDir != nil {
			continue
		}
		im.note(d, fmt.Sprintf("%s.spec.volumes[%d]", tp, i), "%s: not mapped: bgrender mounts only an emptyDir at /tmp", v.Name)
	}
	for i, m := range ctr.VolumeMounts {
		if m.Name == "tmp" && m.MountPath == "/tmp" {
			continue
		}
		im.note(d, fmt.Sprintf("%s.spec.containers[0].volumeMounts[%d]", tp, i), "%s: not mapped", m.Name)
	}
	// Whatever else the pod or the container sets has no place in the spec.
	rest := pod.DeepCopy()
	rest.Containers, rest.InitContainers, rest.Volumes = nil, nil, nil
	rest.NodeSelector, rest.Tolerations, rest.Affinity, rest.PriorityClassName, rest.TopologySpreadConstraints = nil, nil, nil, "", nil
	rest.ServiceAccountName, rest.AutomountServiceAccountToken, rest.TerminationGracePeriodSeconds, rest.SecurityContext = "", nil, nil, nil
	im.leftovers(d, tp+".spec", rest)
	c := ctr.DeepCopy()
	c.Name, c.Image, c.Ports, c.Env, c.EnvFrom, c.Resources = "", "", nil, nil, nil, corev1.ResourceRequirements{}
	c.ReadinessProbe, c.LivenessProbe, c.Lifecycle, c.SecurityContext, c.VolumeMounts = nil, nil, nil, nil, nil
	im.leftovers(d, tp+".spec.containers[0]", c)
}

// leftovers notes every field that is set in v.
func (im *importer) leftovers(d *document, path string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if sub, ok := m[k].(map[string]any); (ok && len(sub) == 0) || m[k] == nil || m[k] == "" {
			continue // an empty struct or field without omitempty
		}
		im.note(d, path+"."+k, "not mapped: bgrender has no counterpart of this field")
	}
}

func (im *importer) probes(d *document, app *spec.BlueGreenApp, ctr *corev1.Container) {
	const cp = "spec.template.spec.containers[0]"
	r := ctr.ReadinessProbe
	if r == nil {
		if ctr.LivenessProbe != nil {
			im.note(d, cp+".livenessProbe", "not mapped: bgrender renders a liveness probe only beside the same readiness probe")
		}
		return
	}
	if r.HTTPGet == nil {
		im.note(d, cp+".readinessProbe", "not mapped: bgrender's health check is an HTTP GET")
		return
	}
	hc := &spec.HealthCheck{
		Path:                r.HTTPGet.Path,
		Port:                r.HTTPGet.Port,
		InitialDelaySeconds: r.InitialDelaySeconds,
		PeriodSeconds:       r.PeriodSeconds,
		TimeoutSeconds:      r.TimeoutSeconds,
		FailureThreshold:    r.FailureThreshold,
	}
	// Leave out what bgrender (and Kubernetes) default to.
	if hc.PeriodSeconds == 10 {
		hc.PeriodSeconds = 0
	}
	if hc.TimeoutSeconds == 1 {
		hc.TimeoutSeconds = 0
	}
	if hc.FailureThreshold == 3 {
		hc.FailureThreshold = 0
	}
	if r.HTTPGet.Scheme == corev1.URISchemeHTTPS || r.HTTPGet.Host != "" || len(r.HTTPGet.HTTPHeaders) > 0 || r.SuccessThreshold > 1 {
		im.note(d, cp+".readinessProbe", "not mapped: scheme, host, headers and successThreshold of the probe")
	}
	if l := ctr.LivenessProbe; l != nil {
		if equality.Semantic.DeepEqual(l, r) {
			hc.Liveness = true
		} else {
			im.note(d, cp+".livenessProbe", "not mapped: bgrender renders a liveness probe only as a copy of the readiness probe")
		}
	}
	app.Spec.HealthCheck = hc
}

// security maps the pod's user, group and read-only root filesystem, and
// notes what would make it less than restricted: bgrender always renders
// restricted pods.
func (im *importer) security(d *document, app *spec.BlueGreenApp, pod *corev1.PodSpec, ctr *corev1.Container) {
	sc := &spec.SecuritySpec{}
	if p := pod.SecurityContext; p != nil {
		sc.RunAsUser, sc.RunAsGroup, sc.FSGroup = p.RunAsUser, p.RunAsGroup, p.FSGroup
		if p.RunAsNonRoot != nil && !*p.RunAsNonRoot {
			im.note(d, "spec.template.spec.securityContext.runAsNonRoot", "false: bgrender's pods always run as non-root")
		}
	}
	if c := ctr.SecurityContext; c != nil {
		if c.ReadOnlyRootFilesystem != nil && !*c.ReadOnlyRootFilesystem {
			sc.ReadOnlyRootFilesystem = ptr.To(false)
		}
		if c.RunAsUser != nil && sc.RunAsUser == nil {
			sc.RunAsUser = c.RunAsUser
		}
		if (c.Privileged != nil && *c.Privileged) || (c.AllowPrivilegeEscalation != nil && *c.AllowPrivilegeEscalation) || (c.Capabilities != nil && len(c.Capabilities.Add) > 0) {
			im.note(d, "spec.template.spec.containers[0].securityContext", "not mapped: bgrender's pods pass the restricted Pod Security Standard (no privilege, no escalation, all capabilities dropped)")
		}
	}
	if *sc != (spec.SecuritySpec{}) {
		app.Spec.SecurityContext = sc
	}
}

// spread returns the spec's topologySpreadConstraints for the Rollout's:
// none written when they are bgrender's default, a constraint's
// labelSelector left out when it selects the app's pods.
func (im *importer) spread(app *spec.BlueGreenApp, ro *Rollout, tscs []corev1.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
	if tscs == nil {
		return []corev1.TopologySpreadConstraint{}
	}
	out := make([]corev1.TopologySpreadConstraint, len(tscs))
	for i, t := range tscs {
		out[i] = *t.DeepCopy()
		if sel := t.LabelSelector; sel != nil && len(sel.MatchExpressions) == 0 && maps.Equal(sel.MatchLabels, ro.Spec.Selector.MatchLabels) {
			out[i].LabelSelector = nil
		}
	}
	def := []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: render.TopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway},
		{MaxSkew: 1, TopologyKey: render.TopologyNode, WhenUnsatisfiable: corev1.ScheduleAnyway},
	}
	if equality.Semantic.DeepEqual(out, def) {
		return nil
	}
	return out
}

// service decodes the Service called name, noting when it is missing or
// selects other pods than the Rollout.
func (im *importer) service(ro *document, role, name string, selector map[string]string) (*document, *corev1.Service) {
	d := im.services[name]
	if d == nil {
		im.note(ro, "spec.strategy.blueGreen."+role, "Service %q is not in the input: its type, ports and annotations are not imported", name)
		return nil, nil
	}
	svc := &corev1.Service{}
	if _, errs := d.decodeInto(svc, nil); len(errs) > 0 {
		im.notes = append(im.notes, errs...)
		return nil, nil
	}
	if !maps.Equal(svc.Spec.Selector, selector) {
		im.note(d, "spec.selector", "not mapped: the Service selects other pods than the Rollout; bgrender's selects the Rollout's")
	}
	return d, svc
}

func (im *importer) activeService(ro *document, app *spec.BlueGreenApp, name string, selector map[string]string) {
	d, svc := im.service(ro, "activeService", name, selector)
	s := &app.Spec
	for i := range s.Ports {
		s.Ports[i].ServicePort = s.Ports[i].ContainerPort
	}
	if svc == nil {
		return
	}
	if len(s.Ports) == 0 {
		// The container declares no ports: take them from the Service.
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort.IntVal
			if sp.TargetPort.Type == intstr.String || target == 0 {
				target = sp.Port
			}
			s.Ports = append(s.Ports, spec.Port{Name: sp.Name, ContainerPort: target, ServicePort: target})
		}
		im.note(ro, "spec.template.spec.containers[0].ports", "missing: the container ports are taken from Service %s", name)
	}
	for _, sp := range svc.Spec.Ports {
		i := slices.IndexFunc(s.Ports, func(p spec.Port) bool {
			return (sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal == p.Name && p.Name != "") ||
				(sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == p.ContainerPort) ||
				(sp.TargetPort.IntVal == 0 && sp.TargetPort.StrVal == "" && sp.Port == p.ContainerPort)
		})
		if i < 0 {
			im.note(d, "spec.ports", "port %d (%s) targets no container port: not mapped", sp.Port, sp.TargetPort.String())
			continue
		}
		s.Ports[i].ServicePort = sp.Port
	}
	if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
		s.Service.Type = svc.Spec.Type
	}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		s.Service.SessionAffinity = corev1.ServiceAffinityClientIP
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds != spec.DefaultAffinityTimeoutSeconds {
			s.Service.SessionAffinityTimeoutSeconds = ptr.To(*c.ClientIP.TimeoutSeconds)
		}
	}
	annotations := maps.Clone(svc.Annotations)
	for k, v := range app.Metadata.Annotations {
		if annotations[k] == v {
			delete(annotations, k)
		}
	}
	if len(annotations) > 0 {
		s.Service.Annotations = annotations
	}
}

func (im *importer) previewService(ro *document, name string, selector map[string]string) {
	if name == "" {
		return
	}
	d, svc := im.service(ro, "previewService", name, selector)
	if svc != nil && svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
		im.note(d, "spec.type", "%s: not mapped: bgrender's preview Service is ClusterIP", svc.Spec.Type)
	}
}
