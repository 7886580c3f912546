// Package gitops changes one application's folder in a GitOps repository
// as one small commit, pushed to the branch that Argo CD or Flux watches or
// to a pull-request branch.
//
// An Update clones the branch shallowly into memory (one commit, no
// worktree), copies out only the app's folder, lets an Editor change it,
// and builds the new commit from the old tree, replacing only the trees on
// the path to the files that changed: the rest of the repository is never
// read file by file nor written, so it cannot be lost. When the push is
// rejected because the branch moved, the Update clones the new tip, asks
// the Editor again from scratch, and retries with jittered exponential
// backoff; if the app itself changed meanwhile to a different state it
// stops with a *ConflictError. It never force-pushes the target branch.
//
// An Update may change several app folders in one commit (Folders, each
// with its Editor): several apps released as one. Every Editor runs on
// every attempt, only the trees on the way to the changed files are
// rewritten, a conflict in any folder stops it, and the commit's message
// and trailers name every app (Group).
//
// A Signer (LoadSigner) signs the commits with an SSH key (sshsig, as
// `git -c gpg.format=ssh` verifies) or an OpenPGP key.
//
// Credentials never appear in errors: every error that may carry a URL or
// a token is redacted (see Repo).
package gitops
