// Package evidence is what a reviewer needs to approve a color flip, in
// one value: the action and the app, what changes in one sentence, the
// plan's steps, both colors as the cluster runs them, every gate that ran
// with what it measured against what it needed (and the gates that did not
// run), and when it was read.
//
// The release runner (package release) builds an Evidence before each
// commit and hands it to the promote.Target that makes the commit; the
// target completes it with the change and writes it as the pull request's
// body (Markdown, which GitHub, GitLab and Gitea render alike, the details
// in collapsed <details> sections) and into -o json. Nothing in it comes
// from a credential: gate errors are redacted where they are made (see
// gate.RedactURL).
//
// A Breach is what bgrender guard saw before it reacted: its Markdown (the
// readings as a table and a Mermaid xychart-beta chart) goes into the
// reaction's commit message and, through Evidence.Breach, its pull
// request's body.
package evidence
