// Package postrender turns the manifests of an ordinary Helm chart into a
// blue/green release, as a Helm post-renderer (Helm 3 `--post-renderer`,
// Helm 4 postrenderer/v1 plugin).
//
// Each selected Deployment D becomes D-blue and D-green, which differ only
// in the color label; each Service that selects D's pods gets the active
// color in its selector and a <service>-preview twin that selects the idle
// color; HorizontalPodAutoscalers and PodDisruptionBudgets of D become one
// per color, and a D that an HPA scales is written without spec.replicas
// in both colors, so that an applier never fights the autoscalers; with --weight, Gateway API routes to such a Service split
// between per-color Services. Every other document passes through byte
// for byte.
//
// On an upgrade the new render goes to the idle color only: the active
// color's Deployment is carried forward unchanged from the previous release
// (Helm's release storage, or the live cluster), so the Service never
// points at untested pods.
//
// A run is one pipeline, postRenderer in pipeline.go, whose steps run in
// order: read the stream (read.go); refuse what would break the release
// (check.go, weights.go); choose the colors (colors.go); find the
// Deployments adopted from a release without colors (carry.go); check that
// the kept color still serves its Services (kept.go); and write
// (write.go). The write step passes each object that changes through the
// filter of its kind, one concern per file: deployments.go, services.go,
// percolor.go (HPAs and PDBs), routes.go; and then appends what the
// generators add, networkpolicies.go and quota.go. Each filter also says
// which objects it changes and what it refuses, which the check step asks
// before anything is written.
//
// The stream is held as bytes, one slice per document (stream.go); a
// document is parsed on its own and kept parsed only when it may be
// transformed.
package postrender
