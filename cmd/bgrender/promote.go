package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/internal/forge"
	"github.com/bgrender/bgrender/live"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/spec"
)

// gitFlags are the flags every GitOps action shares.
type gitFlags struct {
	repo, path, branch      string
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
}

func (g *gitFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.repo, "repo", "", "the GitOps repository: an https, ssh, git:// or file:// `URL`, or a local path (required)")
	fs.StringVar(&g.path, "path", "", "the app's folder in the repository (required)")
	fs.StringVar(&g.branch, "branch", "", "the branch to change (default: the remote's default branch)")
	fs.BoolVar(&g.pullRequest, "pull-request", false, "push to a branch named after the action, app and color and open (or reuse) a pull request")
	fs.BoolVar(&g.waitMerge, "wait-merge", false, "with --pull-request: wait until the pull request is merged (or fail when it is closed)")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Minute, "with --wait-merge: how long to wait")
	fs.DurationVar(&g.pollInterval, "poll-interval", 10*time.Second, "with --wait-merge: how often to look at the pull request")
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
	fs.StringVar(&g.plain.Service, "service", "", "plain manifests: the live Service's `NAME` (default: the only Service that selects a color)")
	fs.StringVar(&g.plain.File, "file", "", "plain manifests: the file holding the Service, relative to --path (default: search the folder)")
	fs.StringVar(&g.plain.ColorLabel, "color-label", "", "plain manifests: the selector key that carries the color (default: the key whose value is blue or green)")
	fs.StringVar(&g.plain.Container, "container", "", "plain manifests: the container whose image deploy sets, when a pod has several")
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
	if g.repo == "" || g.path == "" {
		return nil, usageError("--repo and --path are required")
	}
	if g.output != "text" && g.output != "json" {
		return nil, usageError("--output %q: expected text or json", g.output)
	}
	if slices.Contains(strings.Split(filepath.ToSlash(g.path), "/"), "..") {
		return nil, usageError("--path %q: name a folder inside the repository, without ..", g.path)
	}
	if g.maxAttempts < 1 {
		return nil, usageError("--max-attempts %d: must be at least 1", g.maxAttempts)
	}
	if g.waitMerge && !g.pullRequest {
		return nil, usageError("--wait-merge needs --pull-request")
	}
	repo, err := openRepo(s, g.repo, gitops.RepoOptions{SSHKey: g.sshKey, KnownHosts: g.knownHosts, InsecureIgnoreHostKey: g.insecureIgnoreHostKey})
	if err != nil {
		return nil, err
	}
	t := &promote.Target{
		Repo: repo, Branch: g.branch, Path: g.path, Plain: g.plain,
		PullRequest: g.pullRequest, WaitMerge: g.waitMerge, Timeout: g.timeout, PollInterval: g.pollInterval,
		DryRun: g.dryRun, AuthorName: firstSet(g.authorName, os.Getenv("BGRENDER_AUTHOR_NAME"), os.Getenv("GIT_AUTHOR_NAME")),
		AuthorEmail: firstSet(g.authorEmail, os.Getenv("BGRENDER_AUTHOR_EMAIL"), os.Getenv("GIT_AUTHOR_EMAIL")),
		MaxAttempts: g.maxAttempts, Log: s.err,
	}
	if g.messageTemplate != "" {
		text, err := os.ReadFile(g.messageTemplate)
		if err != nil {
			return nil, usageError("--message-template %s: %v", g.messageTemplate, unwrapPathError(err))
		}
		if t.Message, err = gitops.ParseMessageTemplate(g.messageTemplate, string(text)); err != nil {
			return nil, usageError("--message-template: %v", err)
		}
	}
	if g.signKey != "" {
		if t.Signer, err = gitops.LoadSigner(g.signKey, os.Getenv("BGRENDER_SIGN_KEY_PASSPHRASE")); err != nil {
			return nil, usageError("--sign-key %s: %v", g.signKey, unwrapPathError(err))
		}
	}
	if g.pullRequest && !g.dryRun {
		t.Forge, err = forge.New(forge.Options{Kind: g.forge, RepoURL: repo.URL, APIURL: g.forgeAPI,
			Token: firstSet(os.Getenv("BGRENDER_FORGE_TOKEN"), repo.Token)})
		if err != nil {
			return nil, usageError("--pull-request: %v", err)
		}
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

// report prints an action's result: in text, the diff of a dry run on
// standard output and one line; in JSON, the whole result.
func (g *gitFlags) report(s streams, res *promote.Result) error {
	if g.output == "json" {
		if !res.DryRun {
			res.Diff = ""
		}
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", data)
		return err
	}
	if res.DryRun && res.Diff != "" {
		if _, err := fmt.Fprint(s.out, res.Diff); err != nil {
			return err
		}
		_, err := fmt.Fprintln(s.err, res.Message)
		return err
	}
	_, err := fmt.Fprintln(s.out, res.Message)
	return err
}

// runAction runs an action with a context that ends on interrupt.
func runAction(s streams, g *gitFlags, run func(ctx context.Context) (*promote.Result, error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err := act(ctx, s, g, run)
	return err
}

// act runs an action and reports its result.
func act(ctx context.Context, s streams, g *gitFlags, run func(ctx context.Context) (*promote.Result, error)) (*promote.Result, error) {
	res, err := run(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.path, err)
	}
	return res, g.report(s, res)
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

const gitopsLong = `

The app folder (--path) is either bgrender-managed — bgrender.yaml beside
the manifests that 'bgrender render --output-dir' wrote; the spec is edited
in place (only the changed lines) and the folder re-rendered in the same
commit — or plain manifests as in the article: a Service whose selector
carries the color (version: blue) and Deployments <app>-blue and
<app>-green, edited in place.

The branch is cloned shallowly into memory; only the app folder is read and
written. When the push is rejected because the branch moved, the change is
made again on the new tip and pushed again, with backoff, up to
--max-attempts times; if the app itself changed meanwhile, the command
stops with a conflict. It never force-pushes the branch. Already in the
wanted state: exit 0, no commit. HTTPS tokens come from BGRENDER_GIT_TOKEN
(or GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN) and never appear in output.
Commit messages end with Bgrender-App, Bgrender-Action, Bgrender-From,
Bgrender-To (and Bgrender-Image) trailers.`

func promoteCommand() *command {
	return &command{
		name:    "promote",
		summary: "flip traffic to the idle color, as a Git commit",
		usage:   "--repo URL --path DIR [--to blue|green] [flags]",
		long:    "Flip the live Service of an app to the idle color (or --to), as one commit\nor pull request in the GitOps repository." + promoteGatesLong + gitopsLong,
		example: `  # Flip my-application to its idle color on the default branch
  BGRENDER_GIT_TOKEN=... bgrender promote --repo https://git.example.com/ops/gitops.git --path apps/my-application

  # Show the diff only
  bgrender promote --repo ./gitops --path apps/my-application --to green --dry-run

  # As a pull request, waiting for the merge
  bgrender promote --repo https://git.example.com/ops/gitops.git --path apps/my-application --pull-request --wait-merge

  # Only when the preview color is rolled out, healthy and under 1% errors
  bgrender promote --repo https://git.example.com/ops/gitops.git --path apps/my-application -n production \
    --require-rollout --rollout-timeout 10m --health-path /health \
    --prometheus-url http://prometheus.monitoring:9090 --max-error-rate 1`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			to := fs.String("to", "", "the color to send traffic to: blue or green (default: the idle color; with a gate, the color the preview Service selects); with --steps, name it so that a re-run after the promotion ended does nothing instead of promoting back")
			force := fs.Bool("force", false, "promote even to a color that has 0 replicas")
			gates := addClusterGates(fs)
			after := addLiveFlags(fs, "the active Service selects the promoted color and its EndpointSlices list only ready pods of it")
			stepsFlag := fs.String("steps", "", "promote in steps of the idle color's share of traffic, e.g. 10,25,50,100 (needs spec.traffic): gates before each, a commit per step, a wait until the HTTPRoute carries it (--live-timeout), --step-wait after it; 100 flips the Services (with --dry-run: every step's diff, nothing run or pushed)")
			stepWait := fs.Duration("step-wait", 0, "with --steps: how long to hold each step before the next, the error-rate gate reading meanwhile")
			stepInterval := fs.Duration("step-interval", 10*time.Second, "with --steps and an error-rate gate: how often to read it during --step-wait")
			return func(args []string) error {
				start := time.Now()
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				color, err := parseColor("--to", *to, false)
				if err != nil {
					return err
				}
				var steps []int32
				if fs.Changed("steps") {
					if steps, err = parseSteps(*stepsFlag); err != nil {
						return err
					}
					switch {
					case g.pullRequest && !g.waitMerge:
						return usageError("--steps with --pull-request needs --wait-merge: one pull request per step, each merged before the next")
					case *stepWait < 0 || *stepInterval <= 0:
						return usageError("--step-wait and --step-interval: want positive durations")
					}
				} else if fs.Changed("step-wait") || fs.Changed("step-interval") {
					return usageError("--step-wait and --step-interval need --steps")
				}
				// A stepped dry run runs no gate and reads no cluster.
				validate := gates.validate
				if steps != nil && g.dryRun {
					validate = func() error { return validateGateFlags(flagsOnly(fs, gates.checks), "rollout-timeout") }
				}
				if err := validate(); err != nil {
					return err
				}
				if err := after.validate(&g, gates.opts); err != nil {
					return err
				}
				if steps != nil && !g.dryRun {
					if err := checkKubeconfig(gates.opts); err != nil {
						return err
					}
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.Promote{Target: *t, To: color, Force: *force}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				if steps != nil {
					p := &stepped{s: s, g: &g, t: t, gates: gates, after: after, steps: steps, to: color, wait: *stepWait, interval: *stepInterval, start: start}
					return p.run(ctx)
				}
				st, err := gates.readFolder(ctx, t, after.any())
				if err != nil {
					return fmt.Errorf("%w; nothing committed", err)
				}
				if gates.checks.Any() {
					passed, err := gates.run(ctx, s, "promote", g.path, string(color))
					if err != nil {
						return fmt.Errorf("%w; nothing committed", err)
					}
					a.To = spec.Color(passed)
				}
				_, err = after.actThen(ctx, s, &g, "promote", gates.reported(a.Run), gates.opts, st, start, "")
				return err
			}
		},
	}
}

func deployCommand() *command {
	return &command{
		name:    "deploy",
		summary: "put a new image on the idle color, as a Git commit",
		usage:   "--repo URL --path DIR --image IMAGE [--color idle|blue|green] [flags]",
		long:    "Put an image on the idle color of an app (or --color), as one commit or pull\nrequest in the GitOps repository. Changing the live color's image needs --force." + deployWaitLong + gitopsLong,
		example: `  # Put myapp:v1.3.0 on the idle color
  bgrender deploy --repo https://git.example.com/ops/gitops.git --path apps/my-application --image myapp:v1.3.0

  # ... and wait until the cluster runs it, rolled out and healthy
  bgrender deploy --repo https://git.example.com/ops/gitops.git --path apps/my-application --image myapp:v1.3.0 \
    -n production --wait --rollout-timeout 10m --health-path /health`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			image := fs.String("image", "", "the container image to deploy (required)")
			color := fs.String("color", "idle", "the color to deploy to: idle, blue or green")
			force := fs.Bool("force", false, "allow changing the image of the live color")
			wait := fs.Bool("wait", false, "after the commit lands (with --pull-request, after --wait-merge), wait until the color's Deployment runs the image and is rolled out, up to --rollout-timeout; then run the other gates asked for")
			gates := addClusterGates(fs)
			after := addLiveFlags(fs, "the preview Service selects the color and its EndpointSlices list only ready pods of it that run the image")
			after.preview = true
			return func(args []string) error {
				start := time.Now()
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				if *image == "" {
					return usageError("--image is required")
				}
				c, err := parseColor("--color", *color, true)
				if err != nil {
					return err
				}
				if err := deployWaitUsage(&g, gates, *wait); err != nil {
					return err
				}
				if err := after.validate(&g, gates.opts); err != nil {
					return err
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.Deploy{Target: *t, Image: *image, Color: c, Force: *force}
				if !*wait && !after.any() {
					return runAction(s, &g, a.Run)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				st, err := folderNamespace(ctx, gates.opts, t)
				if err != nil {
					return fmt.Errorf("%w; nothing committed", err)
				}
				if err := gates.useFolder(st); err != nil {
					return fmt.Errorf("%w; nothing committed", err)
				}
				target := c
				if target == "" {
					target = st.Active.Other()
				}
				switch {
				case after.wait && target != st.Active && st.Preview == "":
					return usageError("--wait-live: the app folder %s has no preview Service to watch (--wait waits for the rollout instead); nothing committed", g.path)
				case after.wait && st.Replicas[target] == 0:
					return usageError("--wait-live: %s runs 0 replicas in the app folder %s, so no Service can serve it (scale it up first: scale-idle --replicas N); nothing committed", target, g.path)
				}
				res, err := after.actThen(ctx, s, &g, "deploy", a.Run, gates.opts, st, start, *image)
				if err != nil {
					return err
				}
				if !*wait {
					return nil
				}
				gates.checks.RequireRollout, gates.checks.Image = true, *image
				if _, err := gates.run(ctx, s, "deploy", g.path, res.To); err != nil {
					return fmt.Errorf("%w; the deploy stays (%s)", err, landed(res))
				}
				return nil
			}
		},
	}
}

const promoteGatesLong = `

With a gate (--require-rollout, --health-path, --health-url, --warm,
--prometheus-url; as in 'bgrender check'), the gates run against the cluster
before anything is committed, on --to or else the color the preview Service
selects (which is then promoted). A gate that refuses exits 3, names the
gate and what it saw, and commits nothing.

The app folder's gates (spec.gates in bgrender.yaml, or bgrender.gates
beside plain manifests) run by default, --dry-run included; each gate flag
overrides one of their settings, and --no-spec-gates leaves them out.`

const deployWaitLong = `

With --wait, once the commit is on the branch (with --pull-request, once
--wait-merge has seen the merge) deploy watches the color's Deployment
until its pod template runs the image and it is fully rolled out, up to
--rollout-timeout, then runs any other gate asked for. A refusal exits 3;
the commit stays.`

// deployWaitUsage checks the flags of deploy --wait.
func deployWaitUsage(g *gitFlags, gates *clusterGates, wait bool) error {
	switch {
	case !wait && gates.checks.Any():
		return usageError("the gates of deploy run after the commit: add --wait")
	case wait && g.dryRun:
		return usageError("--wait and --dry-run exclude each other")
	case wait && g.pullRequest && !g.waitMerge:
		return usageError("--wait with --pull-request needs --wait-merge")
	}
	return gates.validate()
}

func rollbackCommand() *command {
	return &command{
		name:    "rollback",
		summary: "flip traffic back to the previous color, as a Git commit",
		usage:   "--repo URL --path DIR [flags]",
		long:    "Flip the live Service of an app back to the color in bgrender.io/previous-color,\nas one commit or pull request. When that color now runs another image than when\nit was last live (a deploy or a hand edit, read from the app folder in the last\n200 commits), the rollback would not return to the previous release: it refuses\n(exit 3) unless --force. So does a color with no Deployment or 0 replicas." + gitopsLong,
		example: `  bgrender rollback --repo https://git.example.com/ops/gitops.git --path apps/my-application`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			force := fs.Bool("force", false, "roll back even when the previous color got a new image since it was live")
			opts := addClusterFlags(fs, nsFromFolder)
			after := addLiveFlags(fs, "the active Service selects the color rolled back to and its EndpointSlices list only ready pods of it")
			return func(args []string) error {
				start := time.Now()
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				if err := after.validate(&g, opts); err != nil {
					return err
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.Rollback{Target: *t, Force: *force}
				if !after.any() {
					return runAction(s, &g, a.Run)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				st, err := folderNamespace(ctx, opts, t)
				if err != nil {
					return fmt.Errorf("%w; nothing committed", err)
				}
				_, err = after.actThen(ctx, s, &g, "rollback", a.Run, opts, st, start, "")
				return err
			}
		},
	}
}

func scaleIdleCommand() *command {
	return &command{
		name:    "scale-idle",
		summary: "scale the idle color, as a Git commit",
		usage:   "--repo URL --path DIR --replicas N [flags]",
		long:    "Set the replica count of the idle color of an app (0 frees its resources), as\none commit or pull request. A managed folder gets spec.idleReplicas; plain\nmanifests get the idle Deployment's spec.replicas." + gitopsLong,
		example: `  bgrender scale-idle --repo https://git.example.com/ops/gitops.git --path apps/my-application --replicas 0`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			replicas := fs.Int32("replicas", -1, "the idle color's replica count (required)")
			return func(args []string) error {
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				switch {
				case !fs.Changed("replicas"):
					return usageError("--replicas is required (0 or more)")
				case *replicas < 0:
					return usageError("--replicas %d: must be 0 or more", *replicas)
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.ScaleIdle{Target: *t, Replicas: *replicas}
				return runAction(s, &g, a.Run)
			}
		},
	}
}

func shiftCommand() *command {
	return &command{
		name:    "shift",
		summary: "send a share of the traffic to the idle color, as a Git commit",
		usage:   "--repo URL --path DIR --weight PERCENT [flags]",
		long: "Give the idle color of an app PERCENT of its requests (0 to 100), as one\n" +
			"commit or pull request: spec.traffic.weight in a managed folder, which the\n" +
			"app's Gateway API HTTPRoute (or NGINX canary Ingress) renders; in plain\n" +
			"manifests the canary-weight annotation of the canary Ingress, whose backend\n" +
			"Service selects the idle color.\n" +
			"The active color keeps the rest; the Services do not change. 'promote' moves\n" +
			"all traffic, 'shift --weight 0' takes it back." + gitopsLong,
		example: `  # Canary: 10% of requests to the idle color
  bgrender shift --repo https://git.example.com/ops/gitops.git --path apps/my-application --weight 10`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			weight := fs.Int32("weight", -1, "the idle color's share of requests, in `PERCENT` (0 to 100; required)")
			force := fs.Bool("force", false, "shift even to a color that has 0 replicas")
			opts := addClusterFlags(fs, nsFromFolder)
			after := addLiveFlags(fs, "the HTTPRoute carries the weights and its Gateways accepted it")
			return func(args []string) error {
				start := time.Now()
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				switch {
				case !fs.Changed("weight"):
					return usageError("--weight is required (0 to 100)")
				case *weight < 0 || *weight > 100:
					return usageError("--weight %d: want a percentage, 0 to 100", *weight)
				}
				if err := after.validate(&g, opts); err != nil {
					return err
				}
				t, err := g.target(s)
				if err != nil {
					return err
				}
				a := &promote.Shift{Target: *t, Weight: *weight, Force: *force}
				if !after.any() {
					return runAction(s, &g, a.Run)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				st, err := folderNamespace(ctx, opts, t)
				if err != nil {
					return fmt.Errorf("%w; nothing committed", err)
				}
				res, err := act(ctx, s, &g, a.Run)
				if err != nil {
					return err
				}
				if err := after.reconcileNow(ctx, s, "shift", opts, res); err != nil || !after.wait {
					return err
				}
				dyn, ns, err := opts.Dynamic()
				if err != nil {
					return err
				}
				idle := st.Active.Other()
				var got fmt.Stringer
				if st.Canary {
					var text string
					text, err = live.WaitCanary(ctx, &live.Canary{Client: dyn, Namespace: ns, Name: st.CanaryIngress, Weight: *weight, Service: st.CanaryService, Timeout: after.timeout})
					got = plainText(text)
				} else {
					got, err = live.WaitRoute(ctx, &live.Route{Client: dyn, Namespace: ns, Name: st.RouteName, Timeout: after.timeout,
						Weights: map[string]int32{st.RouteServices[idle]: *weight, st.RouteServices[st.Active]: 100 - *weight}})
				}
				if err != nil {
					return fmt.Errorf("%s: %w; the change stays (%s)", st.App, err, landed(res))
				}
				fmt.Fprintf(s.err, "bgrender shift: live: %s, %.2fs after the start\n", got, time.Since(start).Seconds())
				return nil
			}
		},
	}
}

// plainText is a string as a fmt.Stringer.
type plainText string

func (t plainText) String() string { return string(t) }
