// Package status reads the live state of bgrender apps from the cluster:
// which color the active Service routes to, how far each color's
// Deployment has rolled out, what each color's HorizontalPodAutoscaler
// reports, which endpoints stand behind the active and preview
// Services, and the app's migration Jobs with the image its schema was
// last contracted for (migrations.go).
//
// It reads with one list request per kind (Services, Deployments,
// EndpointSlices; HTTPRoutes, canary Ingresses, HorizontalPodAutoscalers
// and migration Jobs when the role may list them) and a label selector —
// app.kubernetes.io/managed-by=bgrender, plus app.kubernetes.io/name=APP
// for one app — never one request per object, and all at once, so a
// namespace with hundreds of apps answers in one round trip's time. The EndpointSlice controller copies a Service's
// labels onto its slices, which is what lets the slices be selected the
// same way.
package status
