package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/forge"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// gitFlags are the flags every GitOps action shares.
type gitFlags struct {
	repo, path, branch      string
	paths                   []string // --path, repeated
	group                   bool     // the command takes several --path
	pullRequest, waitMerge  bool
	timeout, pollInterval   time.Duration
	forge, forgeAPI         string
	dryRun                  bool
	messageTemplate         string
	authorName, authorEmail string
	maxAttempts             int
	output                  string
	sshKey, signKey         string
	knownHosts              []string
	insecureIgnoreHostKey   bool
	plain                   promote.PlainOptions
	notify                  notifyFlags
}

func (g *gitFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.repo, "repo", "", "the GitOps repository: an https, ssh, git:// or file:// `URL`, or a local path (required)")
	fs.StringArrayVar(&g.paths, "path", nil, "the app's folder in the repository (required; promote and rollback take it several times and release those apps in one commit)")
	fs.StringVar(&g.branch, "branch", "", "the branch to change (default: the remote's default branch)")
	fs.BoolVar(&g.pullRequest, "pull-request", false, "push to a branch named after the action, app and color and open (or reuse) a pull request")
	fs.BoolVar(&g.waitMerge, "wait-merge", false, "with --pull-request: wait until the pull request is merged (or fail when it is closed)")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Minute, "with --wait-merge: how long to wait")
	fs.DurationVar(&g.pollInterval, "poll-interval", 10*time.Second, "with --wait-merge: how often to look at the pull request")
	g.notify.register(fs)
	fs.StringVar(&g.forge, "forge", "", "the forge for --pull-request: gitea, github or gitlab (default: from the URL)")
	fs.StringVar(&g.forgeAPI, "forge-api", "", "the forge's API base `URL` (default: derived from --repo; token from $BGRENDER_FORGE_TOKEN, else the Git token)")
	fs.BoolVar(&g.dryRun, "dry-run", false, "print the unified diff of the commit and push nothing")
	fs.StringVar(&g.messageTemplate, "message-template", "", "a Go text/template `FILE` for the commit message (default: templates/commit.tmpl); the Bgrender-* trailers are always added")
	fs.StringVar(&g.authorName, "author-name", "", "commit author name (default: $BGRENDER_AUTHOR_NAME, $GIT_AUTHOR_NAME, or bgrender)")
	fs.StringVar(&g.authorEmail, "author-email", "", "commit author email (default: $BGRENDER_AUTHOR_EMAIL, $GIT_AUTHOR_EMAIL, or bgrender@localhost)")
	fs.StringVar(&g.signKey, "sign-key", "", "sign commits with this private key `FILE`: OpenSSH (an SSH signature) or armored OpenPGP; passphrase from $BGRENDER_SIGN_KEY_PASSPHRASE")
	fs.IntVar(&g.maxAttempts, "max-attempts", 10, "how many times to push when the branch keeps moving")
	fs.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&g.sshKey, "ssh-key", "", "private key `FILE` for ssh URLs (default: the SSH agent)")
	fs.StringSliceVar(&g.knownHosts, "known-hosts", nil, "known_hosts `FILE`s that verify ssh host keys (default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
	fs.BoolVar(&g.insecureIgnoreHostKey, "insecure-ignore-host-key", false, "do not verify the ssh server's host key (unsafe: anyone on the path can read and change the repository)")
	fs.StringVar(&g.plain.Service, "service", "", "plain manifests: the live Service's `NAME` (default: the only Service that selects a color, or the one of the app's two that the folder says is live)")
	fs.StringVar(&g.plain.PreviewService, "preview-service", "", "plain manifests: the preview Service's `NAME`, which every flip flips with the live one (default: the Service that selects the same pods with the other color)")
	fs.StringVar(&g.plain.File, "file", "", "plain manifests: the file holding the Service, relative to --path (default: search the folder)")
	fs.StringVar(&g.plain.ColorLabel, "color-label", "", "plain manifests: the selector key that carries the color (default: the key whose value is blue or green)")
	fs.StringVar(&g.plain.Container, "container", "", "plain manifests: the container whose image deploy sets, when a pod has several")
}

// checkPaths checks every --path: a folder inside the repository, and
// several only where the command takes them, without the flags that name
// one folder's Services.
func (g *gitFlags) checkPaths() error {
	for _, p := range g.paths {
		if p == "" || slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "..") {
			return usageError("--path %q: name a folder inside the repository, without ..", p)
		}
	}
	if len(g.paths) < 2 {
		return nil
	}
	if !g.group {
		return usageError("--path given %d times: this command changes one app folder (promote and rollback take several, released in one commit)", len(g.paths))
	}
	if err := gitops.CheckFolders(g.paths); err != nil {
		return err
	}
	if g.plain.Service != "" || g.plain.PreviewService != "" || g.plain.File != "" {
		return usageError("--service, --preview-service and --file name the Services of one app folder, not of %d: with several --path, each folder must tell its live and preview Services itself (see the README: Services by role)", len(g.paths))
	}
	return nil
}

// openRepo opens --repo, and warns when host key verification is off.
func openRepo(s streams, url string, o gitops.RepoOptions) (*gitops.Repo, error) {
	repo, err := gitops.OpenRepo(url, o)
	if err != nil {
		return nil, usageError("--repo: %v", err)
	}
	if o.InsecureIgnoreHostKey {
		fmt.Fprintln(s.err, "bgrender: warning: --insecure-ignore-host-key: the ssh server's host key is not verified")
	}
	return repo, nil
}

// target checks the flags and builds the action's target.
func (g *gitFlags) target(s streams) (*promote.Target, error) {
	if len(g.paths) > 0 {
		g.path = g.paths[0]
	}
	if g.repo == "" || g.path == "" {
		return nil, usageError("--repo and --path are required")
	}
	if err := g.checkPaths(); err != nil {
		return nil, err
	}
	if err := g.checkCommit(); err != nil {
		return nil, err
	}
	return g.targetAt(s, g.repo, g.path)
}

// checkCommit checks the flags that say how to commit.
func (g *gitFlags) checkCommit() error {
	if g.output != "text" && g.output != "json" {
		return usageError("--output %q: expected text or json", g.output)
	}
	if g.maxAttempts < 1 {
		return usageError("--max-attempts %d: must be at least 1", g.maxAttempts)
	}
	if g.waitMerge && !g.pullRequest {
		return usageError("--wait-merge needs --pull-request")
	}
	return nil
}

// targetAt builds the action's target on the app folder path of the
// repository url (a fleet's targets each name theirs).
func (g *gitFlags) targetAt(s streams, url, path string) (*promote.Target, error) {
	repo, err := openRepo(s, url, gitops.RepoOptions{SSHKey: g.sshKey, KnownHosts: g.knownHosts, InsecureIgnoreHostKey: g.insecureIgnoreHostKey})
	if err != nil {
		return nil, err
	}
	t := &promote.Target{
		Repo: repo, Branch: g.branch, Path: path, Plain: g.plain,
		PullRequest: g.pullRequest, WaitMerge: g.waitMerge, Timeout: g.timeout, PollInterval: g.pollInterval,
		DryRun: g.dryRun, AuthorName: firstSet(g.authorName, os.Getenv("BGRENDER_AUTHOR_NAME"), os.Getenv("GIT_AUTHOR_NAME")),
		AuthorEmail: firstSet(g.authorEmail, os.Getenv("BGRENDER_AUTHOR_EMAIL"), os.Getenv("GIT_AUTHOR_EMAIL")),
		MaxAttempts: g.maxAttempts, Log: s.err,
	}
	if g.messageTemplate != "" {
		text, err := os.ReadFile(g.messageTemplate)
		if err != nil {
			return nil, usageError("--message-template %s: %v", g.messageTemplate, spec.UnwrapPathError(err))
		}
		if t.Message, err = gitops.ParseMessageTemplate(g.messageTemplate, string(text)); err != nil {
			return nil, usageError("--message-template: %v", err)
		}
	}
	if g.signKey != "" {
		if t.Signer, err = gitops.LoadSigner(g.signKey, os.Getenv("BGRENDER_SIGN_KEY_PASSPHRASE")); err != nil {
			return nil, usageError("--sign-key %s: %v", g.signKey, spec.UnwrapPathError(err))
		}
	}
	if (g.pullRequest || g.notify.commitStatus) && !g.dryRun {
		t.Forge, err = forge.New(forge.Options{Kind: g.forge, RepoURL: repo.URL, APIURL: g.forgeAPI,
			Token: firstSet(os.Getenv("BGRENDER_FORGE_TOKEN"), repo.Token)})
		if err != nil {
			return nil, usageError("%s: %v", g.notify.forgeFlag(g.pullRequest), err)
		}
		t.CommitStatus = g.notify.commitStatus
	}
	return t, nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func parseColor(flag, v string, allowIdle bool) (spec.Color, error) {
	switch {
	case v == "" || (allowIdle && v == "idle"):
		return "", nil
	case spec.Color(v).Valid():
		return spec.Color(v), nil
	}
	if allowIdle {
		return "", usageError("%s %q: expected idle, blue or green", flag, v)
	}
	return "", usageError("%s %q: expected blue or green", flag, v)
}
