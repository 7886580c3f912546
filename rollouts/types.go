package rollouts

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The fields of Argo Rollouts' argoproj.io/v1alpha1 API that the bridge
// renders and imports, with the json names of
// github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1. Argo
// Rollouts' own module is not imported: it pins Kubernetes modules and a Go
// version of its own.

// GroupVersion of Argo Rollouts' objects.
var GroupVersion = schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"}

// Rollout is an Argo Rollout.
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RolloutSpec `json:"spec"`
}

// RolloutSpec is the desired state of a Rollout.
type RolloutSpec struct {
	Replicas                *int32                 `json:"replicas,omitempty"`
	Selector                *metav1.LabelSelector  `json:"selector,omitempty"`
	Template                corev1.PodTemplateSpec `json:"template"`
	WorkloadRef             *ObjectRef             `json:"workloadRef,omitempty"`
	Strategy                RolloutStrategy        `json:"strategy"`
	ProgressDeadlineSeconds *int32                 `json:"progressDeadlineSeconds,omitempty"`
}

// ObjectRef names a workload (a Deployment) whose pod template a Rollout
// uses instead of its own.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
}

// RolloutStrategy is blueGreen or canary.
type RolloutStrategy struct {
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	Canary    json.RawMessage    `json:"canary,omitempty"`
}

// BlueGreenStrategy is the blueGreen strategy.
type BlueGreenStrategy struct {
	ActiveService         string           `json:"activeService"`
	PreviewService        string           `json:"previewService,omitempty"`
	PreviewReplicaCount   *int32           `json:"previewReplicaCount,omitempty"`
	AutoPromotionEnabled  *bool            `json:"autoPromotionEnabled,omitempty"`
	AutoPromotionSeconds  int32            `json:"autoPromotionSeconds,omitempty"`
	ScaleDownDelaySeconds *int32           `json:"scaleDownDelaySeconds,omitempty"`
	PrePromotionAnalysis  *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
}

// RolloutAnalysis runs AnalysisTemplates with arguments.
type RolloutAnalysis struct {
	Templates []TemplateRef         `json:"templates,omitempty"`
	Args      []AnalysisRunArgument `json:"args,omitempty"`
}

// TemplateRef names an AnalysisTemplate (or a ClusterAnalysisTemplate).
type TemplateRef struct {
	TemplateName string `json:"templateName,omitempty"`
	ClusterScope bool   `json:"clusterScope,omitempty"`
}

// AnalysisRunArgument is an argument that a Rollout passes to its analysis.
type AnalysisRunArgument struct {
	Name      string             `json:"name"`
	Value     string             `json:"value,omitempty"`
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// ArgumentValueFrom takes an argument from the Rollout.
type ArgumentValueFrom struct {
	// PodTemplateHashValue is Stable or Latest: the pod template hash of
	// the active or of the newest ReplicaSet.
	PodTemplateHashValue *string   `json:"podTemplateHashValue,omitempty"`
	FieldRef             *FieldRef `json:"fieldRef,omitempty"`
}

// FieldRef is a field of the Rollout, such as metadata.namespace.
type FieldRef struct {
	FieldPath string `json:"fieldPath"`
}

// AnalysisTemplate is a set of metrics that an analysis measures.
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateSpec lists the template's arguments and metrics.
type AnalysisTemplateSpec struct {
	Args    []Argument `json:"args,omitempty"`
	Metrics []Metric   `json:"metrics"`
}

// Argument is an argument of a template, with an optional default value.
type Argument struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// Metric is one measurement: count times, interval apart. A measurement
// is Successful when successCondition holds, Failed when failureCondition
// holds (or, without one, when successCondition does not), Inconclusive
// when neither does, and an Error when the provider fails.
type Metric struct {
	Name                  string              `json:"name"`
	Interval              string              `json:"interval,omitempty"`
	Count                 *intstr.IntOrString `json:"count,omitempty"`
	SuccessCondition      string              `json:"successCondition,omitempty"`
	FailureCondition      string              `json:"failureCondition,omitempty"`
	FailureLimit          *intstr.IntOrString `json:"failureLimit,omitempty"`
	InconclusiveLimit     *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	Provider              MetricProvider      `json:"provider"`
}

// MetricProvider is where a metric is measured.
type MetricProvider struct {
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	Web        *WebMetric        `json:"web,omitempty"`
}

// PrometheusMetric is an instant PromQL query.
type PrometheusMetric struct {
	Address string `json:"address,omitempty"`
	Query   string `json:"query,omitempty"`
}

// WebMetric is an HTTP request; a response outside 2xx is an Error.
type WebMetric struct {
	Method         string `json:"method,omitempty"`
	URL            string `json:"url"`
	TimeoutSeconds int64  `json:"timeoutSeconds,omitempty"`
	JSONPath       string `json:"jsonPath,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (r *Rollout) DeepCopyObject() runtime.Object { return deepCopy(r) }

// DeepCopyObject implements runtime.Object.
func (t *AnalysisTemplate) DeepCopyObject() runtime.Object { return deepCopy(t) }

// deepCopy copies an object through its JSON form, which holds all of it.
func deepCopy[T any](in *T) *T {
	raw, err := json.Marshal(in)
	if err != nil {
		panic("rollouts: copy: " + err.Error()) // every field encodes
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		panic("rollouts: copy: " + err.Error())
	}
	return out
}
