// Package gate holds the checks that must pass before bgrender switches
// traffic to the preview color, each read from the live cluster or its
// monitoring without kubectl:
//
//   - RolloutGate watches a Deployment until it is fully rolled out, with
//     the rules of `kubectl rollout status` (Rollout), or until a timeout.
//   - Health sends GET requests to the preview color, through the API
//     server's service proxy (ServiceProxy) or to a direct URL, until one
//     succeeds or the attempts run out.
//   - Warm sends warm-up requests to the preview color.
//   - ErrorRate reads the preview color's 5xx rate from Prometheus, a
//     number of times an interval apart as an Argo Rollouts
//     AnalysisTemplate measures, and refuses when more measurements than
//     its failure limit are at or above the maximum.
//
// Before them, when the app folder has spec.migrations.expand, the
// migration gate (runMigration) requires the color's image to have a
// succeeded expand Job in the cluster.
//
// Checks runs the gates a promotion asked for, in that order.
//
// A gate that refuses returns a *Refused error (which gate, what it saw)
// wrapped with exitcode.GateRefused, so the CLI exits 3. An inconclusive
// error-rate measurement blocks, never passes: without data it is a
// refusal (exit 3) unless no data is allowed; a query that fails is, like
// any gate that could not decide (the API server or Prometheus
// unreachable), an ordinary error: exit 1. Either way nothing is committed.
//
// Each gate that Checks runs gives its Result to Checks.Record: what it
// measured (the rollout's state, the ready pods against the capacity
// needed, the health answer and attempts, each error-rate measurement)
// against what it needed — the evidence of a promotion's pull request
// (package evidence) and of its notifications.
package gate
