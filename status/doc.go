// Package status reads the live state of bgrender apps from the cluster:
// which color the active Service routes to, how far each color's
// Deployment has rolled out, and which endpoints stand behind the active
// and preview Services.
//
// It reads with one list request per kind (Services, Deployments,
// EndpointSlices) and a label selector — app.kubernetes.io/managed-by=
// bgrender, plus app.kubernetes.io/name=APP for one app — never one
// request per object, so a namespace with hundreds of apps answers in
// three round trips. The EndpointSlice controller copies a Service's
// labels onto its slices, which is what lets the slices be selected the
// same way.
package status
