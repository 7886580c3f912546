package main

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/fleet"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/status"
)

func statusCommand() *command {
	return &command{
		name:    "status",
		summary: "show the live color, rollout and endpoints of apps in the cluster",
		usage:   "[APP] [flags]",
		long:    statusLong,
		example: statusExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			opts := addClusterFlags(fs, nsFromRepo)
			output := fs.StringP("output", "o", "table", "output format: table or json")
			repo := fs.String("repo", "", "also read what the GitOps repository at `URL` wants and show drift from it (needs APP and --path)")
			path := fs.String("path", "", "with --repo: the app's `DIR` in the repository")
			branch := fs.String("branch", "", "with --repo: the `BRANCH` (default: the remote's default branch)")
			sshKey := fs.String("ssh-key", "", "with --repo: private key `FILE` for ssh URLs (default: the SSH agent)")
			knownHosts := fs.StringSlice("known-hosts", nil, "with --repo: known_hosts `FILE`s (default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
			insecure := fs.Bool("insecure-ignore-host-key", false, "with --repo: do not verify the ssh server's host key (unsafe)")
			var plain promote.PlainOptions
			fs.StringVar(&plain.Service, "service", "", "with --repo, plain manifests: the live Service's `NAME`")
			fs.StringVar(&plain.PreviewService, "preview-service", "", "with --repo, plain manifests: the preview Service's `NAME`")
			fs.StringVar(&plain.File, "file", "", "with --repo, plain manifests: the file holding the Service, relative to --path")
			fs.StringVar(&plain.ColorLabel, "color-label", "", "with --repo, plain manifests: the selector key that carries the color")
			fs.StringVar(&plain.Container, "container", "", "with --repo, plain manifests: the container whose image is compared, when a pod has several")
			fleetFile := fs.String("fleet", "", "show every target of a fleet `FILE` (kind: Fleet), one row each: its cluster, live color, each color's image and ready/desired pods, its drift from Git, its wave")
			parallel := fs.Int("parallel", fleet.DefaultParallel, "with --fleet: how many clusters to read at once")
			return func(args []string) error {
				if fs.Changed("fleet") {
					return statusFleet(s, fs.Changed, *fleetFile, *output, *parallel, opts.RequestTimeout, gitops.RepoOptions{SSHKey: *sshKey, KnownHosts: *knownHosts, InsecureIgnoreHostKey: *insecure}, args)
				}
				if len(args) > 1 {
					return usageError("status takes at most one app name, got %d arguments", len(args))
				}
				if *output != "table" && *output != "json" {
					return usageError("--output must be table or json, not %q", *output)
				}
				var app string
				if len(args) == 1 {
					app = args[0]
				}
				if err := validateCluster(opts, app); err != nil {
					return err
				}
				var target *promote.Target
				if *repo != "" || *path != "" {
					if *repo == "" || *path == "" || len(args) != 1 {
						return usageError("--repo and --path go together, with one APP")
					}
					r, err := openRepo(s, *repo, gitops.RepoOptions{SSHKey: *sshKey, KnownHosts: *knownHosts, InsecureIgnoreHostKey: *insecure})
					if err != nil {
						return err
					}
					target = &promote.Target{Repo: r, Branch: *branch, Path: *path, Plain: plain, MaxAttempts: 1}
				}
				ctx, stop := interruptible()
				defer stop()
				var wanted *promote.State
				if target != nil {
					// Git first: the folder says which namespace the app is in.
					if err := checkKubeconfig(opts); err != nil {
						return err
					}
					var err error
					if wanted, err = release.ReadFolder(ctx, opts, target); err != nil {
						return err
					}
				}
				cfg, ns, err := opts.Config()
				if err != nil {
					return err
				}
				r, err := status.NewReader(cfg, ns)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if len(args) == 1 {
					err = statusOne(ctx, &buf, r, args[0], *output, target, wanted)
				} else {
					err = statusList(ctx, &buf, s, r, ns, *output)
				}
				if err != nil {
					return err
				}
				_, err = s.out.Write(buf.Bytes())
				return err
			}
		},
	}
}

// statusOne writes one app's status, with its drift from Git when wanted
// (the app folder read from target) is given.
func statusOne(ctx context.Context, w io.Writer, r *status.Reader, name, output string, target *promote.Target, wanted *promote.State) error {
	app, err := release.AppStatus(ctx, r, name, target, wanted)
	if err != nil {
		return err
	}
	if output == "json" {
		return status.WriteJSON(w, app)
	}
	return status.WriteApp(w, app)
}

// statusList writes every bgrender app of the namespace.
func statusList(ctx context.Context, w io.Writer, s streams, r *status.Reader, ns, output string) error {
	apps, err := r.List(ctx)
	switch {
	case err != nil:
		return err
	case output == "json":
		return status.WriteJSON(w, status.List{Namespace: ns, Apps: apps})
	case len(apps) == 0:
		_, err = s.err.Write([]byte("no bgrender apps in namespace " + ns + "\n"))
		return err
	}
	return status.WriteTable(w, apps)
}

// statusFleet writes the status of every target of a fleet file. A
// target that cannot be read is a row that says why, and exit 1 once the
// whole table is written.
func statusFleet(s streams, changed func(string) bool, file, output string, parallel int, timeout time.Duration, ro gitops.RepoOptions, args []string) error {
	if len(args) > 0 {
		return usageError("status --fleet takes no app name: the fleet file names its targets")
	}
	for _, name := range []string{"repo", "path", "branch", "kubeconfig", "context", "namespace", "service", "preview-service", "file", "color-label", "container"} {
		if changed(name) {
			return usageError("--%s names one app folder or cluster: with --fleet, each target of the fleet file names its own", name)
		}
	}
	switch {
	case output != "table" && output != "json":
		return usageError("--output must be table or json, not %q", output)
	case parallel < 1:
		return usageError("--parallel %d: want 1 or more", parallel)
	case timeout <= 0:
		return usageError("--request-timeout %s: want a positive duration", timeout)
	}
	f, err := loadFleet(file, true)
	if err != nil {
		return err
	}
	f.RequestTimeout = timeout
	ctx, stop := interruptible()
	defer stop()
	repos := map[string]*gitops.Repo{}
	open := func(url, branch, path string) (*promote.Target, error) {
		if repos[url] == nil {
			r, err := openRepo(s, url, ro)
			if err != nil {
				return nil, err
			}
			repos[url] = r
		}
		return &promote.Target{Repo: repos[url], Branch: branch, Path: path, MaxAttempts: 1}, nil
	}
	rows, err := fleet.Status(ctx, f, open, parallel)
	if rows == nil {
		return err
	}
	var buf bytes.Buffer
	if output == "json" {
		if werr := fleet.WriteStatusJSON(&buf, f.Metadata.Name, rows); werr != nil {
			return werr
		}
	} else if werr := fleet.WriteStatus(&buf, rows); werr != nil {
		return werr
	}
	if _, werr := s.out.Write(buf.Bytes()); werr != nil {
		return werr
	}
	return err
}
