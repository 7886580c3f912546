// Package status reads the live state of bgrender apps from the cluster:
// which color the active Service routes to, how far each color's
// Deployment has rolled out, what each color's HorizontalPodAutoscaler
// reports, and which endpoints stand behind the active and preview
// Services.
//
// It reads with one list request per kind (Services, Deployments,
// EndpointSlices; HTTPRoutes, canary Ingresses and HorizontalPodAutoscalers
// when the role may list them) and a label selector —
// app.kubernetes.io/managed-by=bgrender, plus app.kubernetes.io/name=APP
// for one app — never one request per object, and all at once, so a
// namespace with hundreds of apps answers in one round trip's time. The EndpointSlice controller copies a Service's
// labels onto its slices, which is what lets the slices be selected the
// same way.
package status
