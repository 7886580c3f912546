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
//   - ErrorRate reads the preview color's 5xx rate from Prometheus and
//     refuses above a threshold.
//
// Checks runs the gates a promotion asked for, in that order.
//
// A gate that refuses returns a *Refused error (which gate, what it saw)
// wrapped with exitcode.GateRefused, so the CLI exits 3. A gate that could
// not decide (the API server or Prometheus unreachable) returns an ordinary
// error: exit 1. Either way nothing is committed.
package gate
