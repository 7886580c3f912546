// Package fleet releases one app across many clusters in waves.
//
// A fleet file (kind Fleet, bgrender.io/v1alpha1) names the targets — each
// an app folder in a GitOps repository and the cluster that folder is
// applied to (a kubeconfig context or file, and a namespace) — and the
// waves they move in: a canary cluster, then a region, then the rest. Load
// decodes it with the app spec's strict decoder (file, line and field in
// every error, a duplicate key refused) and Check resolves it: every
// target in exactly one wave, no empty wave, every context in its
// kubeconfig.
//
// A fleet release is a plan of plans. Plan reads each target's folder in
// Git and plans, wave by wave, what is left: for each batch of a wave (at
// most maxParallel targets) and each repository its targets share, one
// release.Plan of the release engine — the deploy of every target in one
// commit (promote.Group), each target's rollout and gates on its own
// cluster, the flip of every target in one commit, a wait until each
// target's cluster serves it — so that a reviewer reads a wave, not
// twenty commits. After the wave, the hold: guard's probes watch every
// target of the wave on its own cluster (its Deployment available, its
// error rate in Prometheus when the folder's gates or the flags name one).
//
// A breach during a hold rolls back, as the wave's onBreach says, the
// wave (rollback-wave) or every wave so far (rollback-all), in one commit
// per repository whose message names the target and the reading, or
// leaves it to a person (halt); later waves are untouched, and the run
// ends with exit code 3 and a table of every target's state.
//
// Resume is read from Git, as the release engine's is: a target whose
// live color runs the image is released, one whose idle color runs it is
// deployed; a re-run plans only what is left, and after a complete
// release plans nothing. Git does not record a hold: a re-run holds the
// last released wave again before the next one starts.
//
// PlanPromote is a release without the deploy: the flip of what is
// deployed already, with the same gates, commits, waits, holds and
// breach policy. It reads each folder's history (promote.History) to
// tell a target with something new on its idle color (to flip) from one
// flipped already and one with nothing deployed to flip to, which
// refuses its wave (exit code 3 when the run reaches it, nothing of the
// wave committed). PlanRollback flips back, the last wave first (or one
// wave), one commit per wave and repository, every target a promote made
// live; one a rollback made live, or that the release did not reach, is
// left as it is, so a re-run does nothing.
//
// Every run ends with a table of the targets, or with -o json the
// Report: the targets, and each wave's steps with their commits.
package fleet
