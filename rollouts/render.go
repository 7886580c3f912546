package rollouts

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// Pipeline is the pipeline of `bgrender render --format argo-rollouts`:
// the objects of the default pipeline that still make sense when Argo
// Rollouts' controller owns the pods, in the form that fits one set of pods.
var Pipeline = render.Pipeline{
	Generators: []render.Generator{
		render.ServiceAccount,
		Rollouts,
		Services,
		NetworkPolicies,
		render.ResourceQuota,
		DisruptionBudgets,
		render.Ingresses,
		AnalysisTemplates,
	},
	Filters: []render.Filter{
		render.CommonMetadata,
	},
}

// Render runs Pipeline over the apps (defaulted and validated, as
// spec.Load returns them).
func Render(apps []*spec.BlueGreenApp) []render.Object { return Pipeline.Render(apps) }

// Warnings are what an app asks for that the Rollout format cannot carry;
// `render --format argo-rollouts` prints them on stderr.
func Warnings(app *spec.BlueGreenApp) []string {
	var out []string
	if app.Spec.Traffic != nil {
		out = append(out, app.Metadata.Name+": spec.traffic is not rendered: Argo Rollouts' blueGreen strategy sends every request to the active Service (weights need its canary strategy)")
	}
	if app.Spec.Autoscaled() {
		out = append(out, app.Metadata.Name+": spec.autoscaling is not rendered: the Rollout runs the active color's minReplicas; point an HPA's scaleTargetRef at the Rollout (argoproj.io/v1alpha1) to scale it")
	}
	if app.Spec.Migrations != nil {
		out = append(out, app.Metadata.Name+": spec.migrations is not rendered: the expand Job and its gate come with bgrender's deploy and promote, which a Rollout does not go through")
	}
	return out
}

// Selector selects every pod of an app: its selector labels without the
// color label. Argo Rollouts tells the ReplicaSets apart by the
// rollouts-pod-template-hash label, which it adds to the Services'
// selectors itself.
func Selector(app *spec.BlueGreenApp) map[string]string {
	l := maps.Clone(app.Spec.SelectorLabels)
	delete(l, app.Spec.ColorLabel)
	return l
}

// Rollouts renders the Rollout <name>.
//
// Its pod template is the idle color's, without the color label: in Argo
// Rollouts the template is the newest revision, the one that waits on the
// preview Service for a promotion, and in bgrender a release lands on the
// idle color. Its replicas are the active color's. The strategy is
// blueGreen with the Services <name> and <name>-preview and no automatic
// promotion: a promotion is `kubectl argo rollouts promote` (or a
// bgrender promote that changes the template). idleReplicas N > 0 becomes
// previewReplicaCount N; idleReplicas 0 becomes scaleDownDelaySeconds 0
// (the previous ReplicaSet goes to zero at the switch). The gates become
// the analyses of AnalysisTemplates, and gates.rollout.timeout the
// progressDeadlineSeconds.
func Rollouts(app *spec.BlueGreenApp) []render.Object {
	s := &app.Spec
	tmpl := render.Deployment(app, s.Idle()).Spec.Template
	delete(tmpl.Labels, s.ColorLabel)
	uncolor(app, tmpl.Spec.TopologySpreadConstraints)

	bg := &BlueGreenStrategy{
		ActiveService:        app.Metadata.Name,
		PreviewService:       render.PreviewName(app),
		AutoPromotionEnabled: ptr.To(false),
	}
	if ir := s.IdleReplicas; ir != nil {
		if *ir > 0 {
			bg.PreviewReplicaCount = ptr.To(*ir)
		} else {
			bg.ScaleDownDelaySeconds = ptr.To(int32(0))
		}
	}
	g := gatesOf(app)
	bg.PrePromotionAnalysis = g.prePromotion()
	bg.PostPromotionAnalysis = g.postPromotion()
	return []render.Object{&Rollout{
		TypeMeta:   metav1.TypeMeta{APIVersion: GroupVersion.String(), Kind: "Rollout"},
		ObjectMeta: metav1.ObjectMeta{Name: app.Metadata.Name},
		Spec: RolloutSpec{
			Replicas:                ptr.To(s.ReplicasOf(s.Active)),
			Selector:                &metav1.LabelSelector{MatchLabels: Selector(app)},
			Template:                tmpl,
			Strategy:                RolloutStrategy{BlueGreen: bg},
			ProgressDeadlineSeconds: g.progressDeadline(),
		},
	}}
}

// uncolor replaces, in place, a spread constraint's selector of one color
// with the selector of all the app's pods.
func uncolor(app *spec.BlueGreenApp, tscs []corev1.TopologySpreadConstraint) {
	for i := range tscs {
		if sel := tscs[i].LabelSelector; sel != nil && len(sel.MatchExpressions) == 0 {
			if _, colored := sel.MatchLabels[app.Spec.ColorLabel]; colored && equality.Semantic.DeepEqual(sel.MatchLabels, render.SelectorLabels(app, app.Spec.Idle())) {
				tscs[i].LabelSelector = &metav1.LabelSelector{MatchLabels: Selector(app)}
			}
		}
	}
}

// Services renders the active Service <name> and the preview Service
// <name>-preview as the default pipeline does, but selecting all the app's
// pods: the controller adds rollouts-pod-template-hash to each selector to
// pick the active and the preview ReplicaSet. The color annotations are
// left out; the controller knows which revision is live.
func Services(app *spec.BlueGreenApp) []render.Object {
	objs := render.Services(app)
	for _, o := range objs {
		svc := o.(*corev1.Service)
		svc.Spec.Selector = Selector(app)
		for _, k := range []string{render.AnnotationActiveColor, render.AnnotationPreviousColor, render.AnnotationPreviewColor, render.AnnotationContractedImage} {
			delete(svc.Annotations, k)
		}
		if len(svc.Annotations) == 0 {
			svc.Annotations = nil
		}
	}
	return objs
}

// ControllerNamespace is where Argo Rollouts' controller runs (its
// install manifests' namespace); the web metrics of the health and warm-up
// gates come from there.
const ControllerNamespace = "argo-rollouts"

// NetworkPolicies renders one policy <name> for all the app's pods. The
// colors cannot be kept apart: the ReplicaSets' pods differ only by the
// rollouts-pod-template-hash label, whose values are not known before the
// controller creates them. Otherwise the policy admits what the standard or
// strict policy of a color admits, the app's own pods in place of the
// color's, and in standard mode also the controller's namespace when a
// health or warm-up gate makes it request the preview Service.
func NetworkPolicies(app *spec.BlueGreenApp) []render.Object {
	if !*app.Spec.NetworkPolicy.Enabled {
		return nil
	}
	c := app.Spec.Active
	np := render.NetworkPolicy(app, c)
	colored := render.SelectorLabels(app, c)
	all := &metav1.LabelSelector{MatchLabels: Selector(app)}
	np.Name = app.Metadata.Name
	np.Labels = nil
	np.Spec.PodSelector = *all.DeepCopy()
	recolor := func(peers []networkingv1.NetworkPolicyPeer) {
		for i := range peers {
			if p := peers[i].PodSelector; p != nil && peers[i].NamespaceSelector == nil && equality.Semantic.DeepEqual(p.MatchLabels, colored) {
				peers[i].PodSelector = all.DeepCopy()
			}
		}
	}
	for i := range np.Spec.Ingress {
		recolor(np.Spec.Ingress[i].From)
	}
	for i := range np.Spec.Egress {
		recolor(np.Spec.Egress[i].To)
	}
	if g := gatesOf(app); g.webMetrics() && app.Spec.NetworkPolicy.Mode != spec.NetworkPolicyStrict {
		np.Spec.Ingress[0].From = append(np.Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{spec.NamespaceNameLabel: ControllerNamespace}},
		})
	}
	return []render.Object{np}
}

// DisruptionBudgets renders one budget <name> for all the app's pods, as
// the default pipeline renders one per color: the spec's minAvailable or
// maxUnavailable, or maxUnavailable 1 when the Rollout runs 2 or more
// replicas.
func DisruptionBudgets(app *spec.BlueGreenApp) []render.Object {
	db := app.Spec.DisruptionBudget
	if db == nil || (db.Enabled != nil && !*db.Enabled) {
		return nil
	}
	budget := policyv1.PodDisruptionBudgetSpec{
		MinAvailable:   db.MinAvailable,
		MaxUnavailable: db.MaxUnavailable,
		Selector:       &metav1.LabelSelector{MatchLabels: Selector(app)},
	}
	if db.MinAvailable == nil && db.MaxUnavailable == nil {
		if app.Spec.ReplicasOf(app.Spec.Active) < 2 {
			return nil
		}
		budget.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	}
	return []render.Object{&policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: policyv1.SchemeGroupVersion.String(), Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: app.Metadata.Name},
		Spec:       budget,
	}}
}
