package postrender

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/bgrender/bgrender/spec"
)

// Annotations that Helm and bgrender read on documents.
const (
	// AnnotationSkip opts one Deployment out of the transformation.
	AnnotationSkip = "bgrender.io/skip"
	// AnnotationHelmHook marks a Helm hook, which passes through untouched.
	AnnotationHelmHook = "helm.sh/hook"
	// AnnotationHelm4Filename is how Helm 4 files each document under its
	// template; clones keep it so that they are filed with their origin.
	AnnotationHelm4Filename = "postrenderer.helm.sh/postrender-filename"
)

// Options configure one post-render run.
type Options struct {
	// ColorLabel is the label key that carries the color (default bgrender.io/color).
	ColorLabel string
	// Select narrows the Deployments that are transformed by their labels;
	// nil selects all.
	Select labels.Selector
	// Skip names Deployments, Services and PodDisruptionBudgets to leave as
	// they are, as the bgrender.io/skip annotation does, for charts that
	// cannot be annotated.
	Skip []string
	// Active is the live color; empty takes it from the previous release,
	// else blue.
	Active spec.Color
	// Target receives the new render; empty means the color that is not active.
	Target spec.Color
	// Namespace of documents that name none (Helm's release namespace).
	Namespace string
	// NetworkPolicy, when not nil, adds the renderer's per-color isolation policies.
	NetworkPolicy *NetworkPolicyOptions
	// Quota, when not nil, adds a ResourceQuota computed from both colors.
	Quota *QuotaOptions
	// Weight, when set, is the idle color's share of requests, in percent,
	// on the chart's Gateway API HTTPRoutes: each rule whose only backend
	// is a transformed Service S sends to two per-color Services S-blue
	// and S-green instead, weighted (see weights.go).
	Weight *int32
	// Previous holds the previous release; nil on a first install or when
	// neither --from-release nor --from-cluster is given.
	Previous Previous
	// Source names the stream in error messages (default stdin).
	Source string
	// Warn, when set, hears of settings that are valid but likely wrong
	// for the chart (as render's warnings).
	Warn func(string)
}

// NetworkPolicyOptions are the settings of a BlueGreenApp's networkPolicy,
// with the same defaults. In standard mode a Deployment's colors admit the
// Ingress controller when the chart has an Ingress, and outside clients
// when a LoadBalancer or NodePort Service of the chart selects its pods.
type NetworkPolicyOptions struct {
	Mode              spec.NetworkPolicyMode                 `json:"mode,omitempty"`
	IngressController *spec.PeerSpec                         `json:"ingressController,omitempty"`
	Prometheus        *spec.PeerSpec                         `json:"prometheus,omitempty"`
	ExternalCIDRs     []string                               `json:"externalCIDRs,omitempty"`
	PodCIDRs          []string                               `json:"podCIDRs,omitempty"`
	APIServer         []networkingv1.NetworkPolicyPeer       `json:"apiServer,omitempty"`
	AllowFrom         []networkingv1.NetworkPolicyPeer       `json:"allowFrom,omitempty"`
	Egress            []networkingv1.NetworkPolicyEgressRule `json:"egress,omitempty"`
}

// QuotaOptions configure the computed ResourceQuota.
type QuotaOptions struct {
	// Name of the ResourceQuota (default bgrender).
	Name string `json:"name,omitempty"`
	// HeadroomPercent added to both colors' usage (default 25).
	HeadroomPercent *int32 `json:"headroomPercent,omitempty"`
}

// Previous is the state of the release before this render: the objects
// that the active color must keep running.
type Previous interface {
	// Deployment returns the Deployment name in namespace as the previous
	// release had it, or nil if it had none.
	Deployment(ctx context.Context, namespace, name string) (*kyaml.RNode, error)
	// ActiveColor returns the color that Service name in namespace routed to,
	// or "" if unknown.
	ActiveColor(ctx context.Context, namespace, name string) (spec.Color, error)
}

// PreviousObjects is a Previous that also has the per-color
// HorizontalPodAutoscalers and PodDisruptionBudgets of the previous state,
// so that a color that keeps its Deployment keeps them too.
type PreviousObjects interface {
	Previous
	// Object returns the object of kind (HorizontalPodAutoscaler or
	// PodDisruptionBudget) name in namespace, or nil.
	Object(ctx context.Context, kind, namespace, name string) (*kyaml.RNode, error)
}
