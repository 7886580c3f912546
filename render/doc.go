// Package render turns BlueGreenApp specs into Kubernetes objects.
//
// Rendering is a pipeline, in the spirit of kyaml's kio.Pipeline: a list of
// Generators, each of which builds one kind of typed k8s.io/api object from
// the spec (Deployments, Services, NetworkPolicies, migration Jobs, …),
// followed by Filters that transform the whole set (common metadata,
// ordering). Every step is a plain function that can be tested alone;
// Default is the pipeline that `bgrender render` runs.
//
// Encoders write the result as a YAML stream, a JSON List, or a directory
// with one file per object and a kustomization.yaml for Argo CD and Flux.
package render
