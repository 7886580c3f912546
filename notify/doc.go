// Package notify tells people when traffic moves: one JSON event per
// transition of a release (a deploy, a promotion, each step of a stepped
// promotion, a rollback, guard's breach), posted to the webhooks named
// with --notify.
//
// An event's "text" is the line that Slack and Mattermost incoming
// webhooks display; its other fields carry the same facts for machines
// (app, action, colors, weight, commit, pull request, the gates' readings,
// the time since the command started).
//
// A notification never decides a release: a receiver that fails or hangs
// costs at most Attempts requests of Timeout each, with a backoff between
// them, and a warning on standard error. Events hold nothing secret:
// the gates' texts are redacted where they are made (package gate), no
// repository URL or token is ever put in one, and a webhook's own URL
// (whose path is often its secret, as Slack's is) is shown in warnings as
// its scheme and host only.
package notify
