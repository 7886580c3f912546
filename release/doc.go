// Package release runs bgrender's actions as plans.
//
// A release is a plan: an ordered list of typed steps — run the gates on a
// color, commit one change to the app folder (or open and merge a pull
// request for it), ask the GitOps agent to reconcile, wait until the
// cluster serves a state, wait for a migration Job (WaitMigration), hold
// while the error rate is read. Planners turn
// an action and its inputs (the app folder as Git holds it, the folder's
// gates, the options a command parsed from its flags) into a plan:
// PlanDeploy, PlanDeployChart, PlanPromote (one commit, or in steps of traffic with the
// NGINX and plain-canary hand-overs), PlanRollback, PlanScaleIdle,
// PlanShift, PlanContract (the contract migration: the old color retired
// in the cluster, the commit, the wait for its Job), PlanGroup (several
// apps as one commit: every app's gates, the commit, a wait per app), and
// Guard's reaction to a breach (which reports instead of rolling back
// past a contract). Package fleet builds a release across many clusters
// out of these plans.
//
// One Runner executes any plan with injected collaborators (the Git
// target, the cluster, the clock, a progress writer): it reports each
// step's start, result and time, and stops at the first failure with the
// exit code it carries. When a plan moved traffic before a gate refused,
// the runner commits the plan's fallback (the share back to the live
// color) before it stops.
//
// Resume from Git is the planners' rule: a planner reads where the app
// folder stands and plans only what is left (a stepped promotion starts at
// the first weight above the one in Git; a hand-over interrupted after its
// flip plans only its end; a commit already in Git is a no-op, and the
// waits after it still run), so a re-run after a kill finishes the release.
//
// The plan is data: Plan.Describe and the JSON of a Report show each step
// with what it does, its diff on a dry run, and the gates it runs.
//
// The runner also tells what the release does. Before each commit that
// opens a pull request (or that -o json reports) it assembles the
// evidence — the plan as it stands, the gates' readings, both colors read
// from the cluster when the release reads it anyway — and hands it to the
// target, which writes it as the pull request's body (package evidence).
// With Env.Notify it posts one event per commit and one when the release
// stops (package notify); with Target.CommitStatus it sets the commit
// status bgrender/<app> on each commit, pending, then success or failure
// when the release ends (and, on a re-run, on the open pull request's head
// while the gates run again). Neither a webhook nor a forge's status API
// ever decides a release: their failures are warnings.
//
// Guard's reaction to a breach is a plan too, whose target carries what
// guard saw (evidence.Breach: the error-rate readings of the breached
// color): its commit message and pull request show it, and its
// guard-breach event, sent before the reaction's own, carries it.
package release
