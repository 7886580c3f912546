package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/spec"
)

// Labels and annotations of a migration Job.
const (
	// LabelMigration says which migration a Job (and its pod) runs:
	// expand or contract.
	LabelMigration = "bgrender.io/migration"
	// AnnotationImage is the app image a migration Job was rendered for
	// (an image reference is not a valid label value).
	AnnotationImage = "bgrender.io/image"
	// AnnotationContractedImage, on the live Service, is the image the
	// schema was last contracted for (spec.migrations.contracted).
	AnnotationContractedImage = "bgrender.io/contracted-image"

	migrationContainer = "migrate"
	hashLength         = 10
)

// ExpandJobs renders, when the spec has migrations.expand, a Job
// <name>-expand-<hash> for each image the colors run, labelled with the
// color (the active one when both run the image) and annotated with the
// image. The hash covers the image and the pod template, so a new image,
// or a new command, is a new Job: a GitOps agent creates it rather than
// patching a Job's template, which the API server refuses as immutable.
// The Job of an image no color runs any more leaves the folder, and the
// agent prunes it.
func ExpandJobs(app *spec.BlueGreenApp) []Object {
	if !app.Spec.Expands() {
		return nil
	}
	var objs []Object
	seen := map[string]bool{}
	for _, c := range []spec.Color{app.Spec.Active, app.Spec.Active.Other()} {
		job := ExpandJob(app, c)
		if !seen[job.Name] {
			seen[job.Name] = true
			objs = append(objs, job)
		}
	}
	return objs
}

// ExpandJob renders the expand Job of color c's image. Its pod carries the
// app's name but not the color label, so that no Service, budget or
// Deployment of a color selects it.
func ExpandJob(app *spec.BlueGreenApp, c spec.Color) *batchv1.Job {
	return migrationJob(app, c, "expand", app.Spec.ColorSpecOf(c).Image, app.Spec.Migrations.Expand)
}

// ContractJobs renders the contract Job that spec.migrations.contracted
// records, while the spec still renders that Job: a Job of the contracted
// image, with the pod of the color that ran it. When the pod has changed
// since (a new env, say), its name would change and the agent would run
// the contract again; the Job leaves the folder instead, and the record
// stays (the live Service's bgrender.io/contracted-image).
func ContractJobs(app *spec.BlueGreenApp) []Object {
	ct := app.Spec.ContractedFor()
	if ct == nil || ct.Job == "" || !app.Spec.Contracts() {
		return nil
	}
	for _, c := range []spec.Color{app.Spec.Active, app.Spec.Active.Other()} {
		if job := ContractJob(app, c, ct.Image); job.Name == ct.Job {
			return []Object{job}
		}
	}
	return nil
}

// ContractJob renders the contract Job of image with color c's pod: the
// Job the contract action commits for the live color's image.
func ContractJob(app *spec.BlueGreenApp, c spec.Color, image string) *batchv1.Job {
	return migrationJob(app, c, "contract", image, app.Spec.Migrations.Contract)
}

// migrationJob renders the Job of one migration (expand or contract) of
// app image with color c's pod.
func migrationJob(app *spec.BlueGreenApp, c spec.Color, kind, image string, m *spec.MigrationJobSpec) *batchv1.Job {
	podLabels := maps.Clone(app.Metadata.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	podLabels[LabelName] = app.Metadata.Name
	podLabels[LabelMigration] = kind
	jobSpec := batchv1.JobSpec{
		BackoffLimit:          m.BackoffLimit,
		ActiveDeadlineSeconds: m.ActiveDeadlineSeconds,
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec:       migrationPod(app, c, image, m),
		},
	}
	labels := colorLabels(app, c)
	labels[LabelMigration] = kind
	return &batchv1.Job{
		TypeMeta: typeMeta(batchv1.SchemeGroupVersion, "Job"),
		ObjectMeta: metav1.ObjectMeta{
			Name:        app.Metadata.Name + "-" + kind + "-" + templateHash(image, &jobSpec),
			Labels:      labels,
			Annotations: map[string]string{AnnotationImage: image},
		},
		Spec: jobSpec,
	}
}

// MigrationNetworkPolicy renders <name>-migrations, when the spec has
// migrations and network policies: a migration pod (expand or contract)
// serves nothing, so it
// admits no ingress; its egress is the colors' (DNS and the declared
// egress rules) when that is restricted, since it reaches the same
// database.
func MigrationNetworkPolicy(app *spec.BlueGreenApp) []Object {
	np := &app.Spec.NetworkPolicy
	if !app.Spec.Expands() || !*np.Enabled {
		return nil
	}
	colors := NetworkPolicy(app, app.Spec.Active)
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	var egress []networkingv1.NetworkPolicyEgressRule
	if len(colors.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
		egress = append([]networkingv1.NetworkPolicyEgressRule{colors.Spec.Egress[0]}, np.Egress...) // DNS, not the color
	}
	return []Object{&networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion, "NetworkPolicy"),
		ObjectMeta: metav1.ObjectMeta{Name: app.Metadata.Name + "-migrations", Labels: map[string]string{LabelMigration: "expand"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: migrationPods(app),
			PolicyTypes: types,
			Egress:      egress,
		},
	}}
}

// migrationPods selects the pods of the app's migration Jobs: the expand
// ones and, with spec.migrations.contract, the contract ones.
func migrationPods(app *spec.BlueGreenApp) metav1.LabelSelector {
	if !app.Spec.Contracts() {
		return metav1.LabelSelector{MatchLabels: map[string]string{LabelName: app.Metadata.Name, LabelMigration: "expand"}}
	}
	return metav1.LabelSelector{
		MatchLabels:      map[string]string{LabelName: app.Metadata.Name},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: LabelMigration, Operator: metav1.LabelSelectorOpIn, Values: []string{"expand", "contract"}}},
	}
}

// ExpandJobName is the name of the expand Job of color c's image.
func ExpandJobName(app *spec.BlueGreenApp, c spec.Color) string { return ExpandJob(app, c).Name }

// migrationPod is the pod of a migration Job: the app's pod (service
// account, restricted security settings, /tmp, the color's scheduling)
// with one container that runs the migration once.
func migrationPod(app *spec.BlueGreenApp, c spec.Color, appImage string, m *spec.MigrationJobSpec) corev1.PodSpec {
	s := &app.Spec
	pod := podSpec(app, c)
	pod.RestartPolicy = corev1.RestartPolicyNever
	pod.TopologySpreadConstraints = nil // they select the color's pods
	pod.TerminationGracePeriodSeconds = nil
	ctr := corev1.Container{
		Name:            migrationContainer,
		Image:           image(m, appImage),
		Command:         m.Command,
		Args:            m.Args,
		Env:             mergeEnv(mergeEnv(s.Env, s.ColorSpecOf(c).Env), m.Env),
		EnvFrom:         append(append([]corev1.EnvFromSource(nil), s.EnvFrom...), m.EnvFrom...),
		Resources:       ptr.Deref(m.Resources, s.Resources),
		SecurityContext: pod.Containers[0].SecurityContext,
		VolumeMounts:    pod.Containers[0].VolumeMounts,
	}
	pod.Containers = []corev1.Container{ctr}
	return pod
}

func image(m *spec.MigrationJobSpec, colorImage string) string {
	if m.Image != "" {
		return m.Image
	}
	return colorImage
}

// templateHash is a short hash of the app image and the Job spec.
func templateHash(image string, js *batchv1.JobSpec) string {
	b, err := json.Marshal(js)
	if err != nil {
		panic(err) // a JobSpec always marshals
	}
	h := sha256.New()
	h.Write([]byte(image))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:hashLength]
}
