// Package promote holds bgrender's GitOps actions: Deploy puts an image on
// a color, DeployChart a chart's render (chart.go), Promote flips traffic,
// Rollback flips back, ScaleIdle scales the idle color, Contract commits
// the contract migration once the old color is retired (contract.go: a
// flip to an image the contract retired is refused after it). Each is a struct of options with a Run method that changes
// one app folder in a Git repository as one commit (or pull request)
// through package gitops. A Group commits several promotes, rollbacks or
// deploys, each on its own app folder, as one commit: several apps
// released as one, or one step of a fleet's wave (package fleet).
// ReadHistory reads a folder with its recent history (history.go):
// whether its idle color runs an image deployed since it was last live,
// and which action made its live color live — how a fleet's promote and
// rollback resume.
//
// An app folder has one of three layouts:
//
//   - bgrender-managed: bgrender.yaml (the BlueGreenApp spec) beside the
//     manifests that `bgrender render --output-dir` wrote. An action edits
//     the spec in place (only the lines that change) and re-renders the
//     folder in the same commit.
//   - plain manifests, as in the article: hand-written Deployments
//     <app>-blue and <app>-green and a Service whose selector carries the
//     color label (version: blue). An action flips that selector value and
//     the color annotations, or edits the idle Deployment's image or
//     replicas, in place (a deploy also edits the Job marked
//     bgrender.io/migration: expand for the new image, plainmigration.go). The preview Service, which every flip flips with
//     the live one, is found by its role: the Service that selects the
//     same pods with the other color, whatever its name (roles.go).
//     DeployChart writes such a folder: the chart's render, post-rendered
//     against its previous ChartFile, in ChartFile beside the user's own
//     files.
//   - a kustomize overlay of a base elsewhere in the repository (see
//     overlay.go): the overlay is built in-process and read as the plain
//     folder of its build; an action's edits go into the overlay's own
//     patches where they set the field, else into PatchFile, and are
//     checked by building the overlay again. The base is never written.
package promote
