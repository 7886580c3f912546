// Package rollouts is the bridge between bgrender and Argo Rollouts, both
// ways.
//
// Render turns a BlueGreenApp into what a team that keeps the Argo Rollouts
// controller applies: one Rollout with a blueGreen strategy (activeService
// <name>, previewService <name>-preview, no automatic promotion), its two
// Services, AnalysisTemplates translated from spec.gates, and the rest that
// `bgrender render` writes, adapted to pods that the controller's
// ReplicaSets own rather than two colored Deployments. It is a render
// Pipeline (Generators and Filters), like the default one.
//
// Import reads a Rollout with its Services and AnalysisTemplates and gives
// back a BlueGreenApp, listing what it could not map. For every spec,
// Import(Render(spec)) gives back the spec, up to the losses that Lossy
// spells out: Argo Rollouts runs one pod template, so the colors' images,
// replicas, env and scheduling become one.
package rollouts
