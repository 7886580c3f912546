// Package postrender turns the manifests of an ordinary Helm chart into a
// blue/green release, as a Helm post-renderer (Helm 3 `--post-renderer`,
// Helm 4 postrenderer/v1 plugin).
//
// Each selected Deployment D becomes D-blue and D-green, which differ only
// in the color label; each Service that selects D's pods gets the active
// color in its selector and a <service>-preview twin that selects the idle
// color; HorizontalPodAutoscalers and PodDisruptionBudgets of D become one
// per color. Every other document passes through byte for byte.
//
// On an upgrade the new render goes to the idle color only: the active
// color's Deployment is carried forward unchanged from the previous release
// (Helm's release storage, or the live cluster), so the Service never
// points at untested pods.
//
// The stream is held as bytes, one slice per document; a document is parsed
// on its own and kept parsed only when it may be transformed.
package postrender
