package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

// The --help of -n: a command that reads an app folder looks where the
// folder says the app is (see folderNamespace).
const (
	nsFromKubeconfig = "`NAMESPACE` of the app (default: the kubeconfig's)"
	nsFromFolder     = "`NAMESPACE` of the app (default: the one the app folder names, in bgrender.yaml's metadata.namespace or the manifests', else the kubeconfig's); a -n that disagrees with the folder is an error"
	nsFromRepo       = "`NAMESPACE` of the app (default: with --repo, the one the app folder names, in bgrender.yaml's metadata.namespace or the manifests', else the kubeconfig's); a -n that disagrees with the folder is an error"
)

// addClusterFlags registers the flags that select the cluster and
// namespace; nsUsage is the --help of -n.
func addClusterFlags(fs *pflag.FlagSet, nsUsage string) *cluster.Options {
	var opts cluster.Options
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&opts.Context, "context", "", "kubeconfig `CONTEXT` to use")
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", nsUsage)
	fs.DurationVar(&opts.RequestTimeout, "request-timeout", cluster.DefaultRequestTimeout, "bound on each API request (a watch is bounded by its gate's timeout instead)")
	return &opts
}

// validateCluster checks the cluster flags and the app name, before
// anything contacts the cluster (bad usage, exit 2).
func validateCluster(opts *cluster.Options, app string) error {
	if opts.RequestTimeout <= 0 {
		return usageError("--request-timeout %s: want a positive duration", opts.RequestTimeout)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if app != "" {
		return cluster.ValidName("app name", app)
	}
	return nil
}

func checkCommand() *command {
	return &command{
		name:    "check",
		summary: "run the promotion gates against the cluster without changing anything",
		usage:   "[APP] [-f bgrender.yaml|bgrender.gates | --repo URL --path DIR] [flags]",
		long:    checkLong,
		example: checkExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			opts := addClusterFlags(fs, nsFromKubeconfig)
			color := fs.String("color", "", "`COLOR` to check (default: the one the preview Service selects)")
			file := fs.StringP("file", "f", "", "read the gates from `FILE`: an app spec (its spec.gates) or a plain folder's bgrender.gates; a folder reads its bgrender.yaml or bgrender.gates")
			noSpec := fs.Bool(gate.NoSpecGatesFlag, false, "with -f or --repo: do not run the file's gates, only the gate flags (the spec still names the app and namespace)")
			repo := fs.String("repo", "", "read the gates from the app folder --path of this GitOps repository (as promote does): its bgrender.yaml's spec.gates, or a plain folder's bgrender.gates")
			path := fs.String("path", "", "with --repo: the app's folder in the repository")
			branch := fs.String("branch", "", "with --repo: the branch to read (default: the remote's default branch)")
			sshKey := fs.String("ssh-key", "", "with --repo: private key `FILE` for ssh URLs (default: the SSH agent)")
			knownHosts := fs.StringSlice("known-hosts", nil, "with --repo: known_hosts `FILE`s (default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
			insecure := fs.Bool("insecure-ignore-host-key", false, "with --repo: do not verify the ssh server's host key (unsafe)")
			checks := addGateFlags(fs, "timeout")
			return func(args []string) error {
				if len(args) > 1 {
					return usageError("check takes one app name, got %d arguments", len(args))
				}
				if err := gate.ValidateFlags(gate.FlagsOnly(fs.Changed, checks), "timeout"); err != nil {
					return err
				}
				var app string
				if len(args) == 1 {
					app = args[0]
				}
				fg, err := checkGates(s, *file, *repo, *path, func(r *gitops.Repo) *promote.Target {
					return &promote.Target{Repo: r, Branch: *branch, Path: *path, MaxAttempts: 1}
				}, gitops.RepoOptions{SSHKey: *sshKey, KnownHosts: *knownHosts, InsecureIgnoreHostKey: *insecure})
				if err != nil {
					return err
				}
				name, ns := fg.App, fg.Namespace
				if app == "" {
					app = name
				}
				if app == "" {
					return usageError("check takes one app name (or -f with an app spec, which names it)")
				}
				if opts.Namespace == "" {
					opts.Namespace = ns
				}
				eff, err := gate.Merge(fs.Changed, checks, "timeout", fg.Gates, *noSpec)
				if err != nil {
					return err
				}
				if !checks.Any() {
					return usageError("no gate asked for: use --require-rollout, --health-path, --health-url, --warm or --prometheus-url, or -f a spec with spec.gates")
				}
				if *color != "" && *color != "blue" && *color != "green" {
					return usageError("--color must be blue or green, not %q", *color)
				}
				if err := validateCluster(opts, app); err != nil {
					return err
				}
				ctx, stop := interruptible()
				defer stop()
				c := &release.Check{Cluster: opts, App: app, Color: *color, Checks: checks, Effective: eff}
				if app == fg.App {
					c.Preview = fg.Preview // the folder's, found by its role
				}
				return c.Run(ctx, &release.Env{Command: "check", Log: s.err, Out: s.out})
			}
		},
	}
}

// checkGates reads check's gates: from the app folder in Git (--repo and
// --path), else from -f (nothing without it).
func checkGates(s streams, file, repo, path string, target func(*gitops.Repo) *promote.Target, o gitops.RepoOptions) (*release.FolderGates, error) {
	if repo == "" && path == "" {
		return release.GatesFromFile(file)
	}
	if repo == "" || path == "" || file != "" {
		return nil, usageError("--repo and --path go together, and not with -f")
	}
	r, err := openRepo(s, repo, o)
	if err != nil {
		return nil, err
	}
	return release.GatesFromGit(context.Background(), target(r))
}
