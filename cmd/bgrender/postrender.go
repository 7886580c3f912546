package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/postrender"
	"github.com/bgrender/bgrender/spec"
)

func postrenderCommand() *command {
	return &command{
		name:    "postrender",
		summary: "Helm post-renderer: turn a chart's Deployments and Services into a blue/green pair",
		usage:   "[flags] < manifests.yaml",
		long: `Read Helm's rendered manifests on standard input and write them, blue/green,
on standard output. Each selected Deployment D becomes D-blue and D-green
(only the color label differs); each Service that selects D's pods routes to
the active color and gets a <service>-preview twin for the idle color; HPAs
and PDBs of D become one per color. Everything else passes through byte for
byte, Helm hooks included.

On an upgrade the new render goes to the idle color: with --from-release (the
previous deployed release, read from Helm's release storage) or --from-cluster
(the live Deployment), the active color keeps running exactly what it ran.
Without either, or on a first install, both colors get the new render. The
active color is --active, else what the previous release routed to, else
blue; flipping --active is the promotion.

On malformed input nothing is written to standard output and the exit code
is 2.`,
		example: `  # Helm 3: the post-renderer is a path (given only flags and piped
  # manifests, bgrender acts as "bgrender postrender")
  helm upgrade --install web ./chart --namespace shop \
    --post-renderer "$(command -v bgrender)" --post-renderer-args --from-release=web

  # Helm 4: install the plugin once, then name it
  bgrender helm-plugin install
  helm upgrade --install web ./chart --namespace shop \
    --post-renderer bgrender --post-renderer-args --from-release=web

  # Promote: route the Service to green
  helm upgrade web ./chart --namespace shop --reuse-values \
    --post-renderer bgrender --post-renderer-args --from-release=web \
    --post-renderer-args --active=green

  # Try it without a cluster
  helm template web ./chart | bgrender postrender --color-label version`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			configPath := fs.String("config", "", "read settings from a PostRenderConfig `FILE`; flags win over it")
			colorLabel := fs.String("color-label", spec.DefaultColorLabel, "label `KEY` that carries the color")
			selector := fs.String("select", "", "transform only Deployments whose labels match this label `SELECTOR` (default: all)")
			skip := fs.StringArray("skip", nil, "leave the Deployment, Service or PodDisruptionBudget `NAME` as it is (repeatable), as the bgrender.io/skip annotation does")
			active := fs.String("active", "", "the live `COLOR` (blue or green); default: the previous release's, else blue")
			target := fs.String("target", "", "the `COLOR` that gets the new render (default: the one that is not active)")
			fromRelease := fs.String("from-release", "", "carry the active color forward from the last deployed revision of Helm `RELEASE`")
			fromCluster := fs.Bool("from-cluster", false, "carry the active color forward from the live cluster")
			namespace := fs.StringP("namespace", "n", "", "release `NAMESPACE` (default: $HELM_NAMESPACE; else, with --from-release, the namespace that holds the release, else the kubeconfig's)")
			kubeconfig := fs.String("kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
			kubeContext := fs.String("kube-context", "", "kubeconfig `CONTEXT` to use (as Helm's flag is named)")
			fs.StringVar(kubeContext, "context", "", "the same as --kube-context, as the other commands name it")
			requestTimeout := fs.Duration("request-timeout", cluster.DefaultRequestTimeout, "give up on an API request after this `DURATION`")
			networkPolicy := fs.Bool("network-policy", false, "add per-color NetworkPolicies: blue and green cannot reach each other; standard mode admits the Ingress controller (namespace ingress-nginx), outside clients of LoadBalancer/NodePort Services and Prometheus (namespace monitoring)")
			policyMode := fs.String("network-policy-mode", "", "with --network-policy: `MODE` standard (default) or strict (only the same color and the config file's allowFrom; egress cut to DNS and the same color)")
			podCIDRs := fs.StringArray("pod-cidr", nil, "with --network-policy: the cluster's pod `CIDR`, excepted from the outside clients' ipBlock (repeatable; see the README for CNIs that need it)")
			quota := fs.Bool("quota", false, "add a ResourceQuota computed from both colors")
			quotaName := fs.String("quota-name", "bgrender", "`NAME` of the ResourceQuota")
			weight := fs.Int32("weight", 0, "the idle color's share of requests in `PERCENT` (0 to 100) on the chart's Gateway API HTTPRoutes: each rule whose only backend is a transformed Service S sends to per-color Services S-blue and S-green, weighted; an Ingress to a transformed Service is refused")
			return func(args []string) error {
				if len(args) > 0 {
					return usageError("postrender reads manifests from standard input and takes no arguments (got %q)", args[0])
				}
				cfg := &postrender.Config{}
				if *configPath != "" {
					loaded, err := postrender.LoadConfig(*configPath)
					if err != nil {
						return exitcode.InvalidInput(err)
					}
					cfg = loaded
				}
				// Flags given on the command line win over the file.
				set := func(name string, apply func()) {
					if fs.Changed(name) {
						apply()
					}
				}
				for _, name := range []string{"color-label", "quota-name", "namespace", "kubeconfig", "kube-context", "context", "from-release", "select", "active", "target", "config"} {
					if f := fs.Lookup(name); fs.Changed(name) && f.Value.String() == "" {
						return usageError("--%s: give a value", name)
					}
				}
				set("color-label", func() { cfg.ColorLabel = *colorLabel })
				set("select", func() { cfg.Select = *selector })
				set("skip", func() { cfg.Skip = append(cfg.Skip, *skip...) })
				set("active", func() { cfg.Active = spec.Color(*active) })
				set("target", func() { cfg.Target = spec.Color(*target) })
				set("from-release", func() { cfg.FromRelease = *fromRelease })
				set("from-cluster", func() { cfg.FromCluster = *fromCluster })
				set("namespace", func() { cfg.Namespace = *namespace })
				set("kubeconfig", func() { cfg.Kubeconfig = *kubeconfig })
				set("kube-context", func() { cfg.Context = *kubeContext })
				set("context", func() { cfg.Context = *kubeContext })
				set("weight", func() { cfg.Weight = weight })
				if *networkPolicy && cfg.NetworkPolicy == nil {
					cfg.NetworkPolicy = &postrender.NetworkPolicyOptions{}
				}
				if (fs.Changed("network-policy-mode") || fs.Changed("pod-cidr")) && cfg.NetworkPolicy == nil {
					return usageError("--network-policy-mode and --pod-cidr need --network-policy")
				}
				if cfg.NetworkPolicy != nil {
					set("network-policy-mode", func() { cfg.NetworkPolicy.Mode = spec.NetworkPolicyMode(*policyMode) })
					set("pod-cidr", func() { cfg.NetworkPolicy.PodCIDRs = append(cfg.NetworkPolicy.PodCIDRs, *podCIDRs...) })
					if err := postrender.ValidateNetworkPolicy(cfg.NetworkPolicy); err != nil {
						return usageError("%v", err)
					}
				}
				if *quota && cfg.Quota == nil {
					cfg.Quota = &postrender.QuotaOptions{}
				}
				if cfg.Quota != nil && fs.Changed("quota-name") {
					cfg.Quota.Name = *quotaName
				}
				if *requestTimeout <= 0 {
					return usageError("--request-timeout %s: must be positive", *requestTimeout)
				}
				ctx := context.Background()
				opts, err := postrenderOptions(ctx, cfg, *requestTimeout, s.err)
				if err != nil {
					return err
				}
				in, err := io.ReadAll(s.in)
				if err != nil {
					return fmt.Errorf("read standard input: %w", err)
				}
				out, err := postrender.Run(ctx, in, opts)
				if err != nil {
					return err
				}
				_, err = io.Copy(s.out, bytes.NewReader(out))
				return err
			}
		},
	}
}

// postrenderOptions checks the settings and connects to the cluster when
// the previous state is read from it.
func postrenderOptions(ctx context.Context, cfg *postrender.Config, requestTimeout time.Duration, stderr io.Writer) (postrender.Options, error) {
	opts := postrender.Options{
		ColorLabel:    cfg.ColorLabel,
		Skip:          cfg.Skip,
		Active:        cfg.Active,
		Target:        cfg.Target,
		Namespace:     cfg.Namespace,
		NetworkPolicy: cfg.NetworkPolicy,
		Quota:         cfg.Quota,
		Weight:        cfg.Weight,
		Warn:          func(msg string) { fmt.Fprintf(stderr, "bgrender postrender: warning: %s\n", msg) },
	}
	if opts.ColorLabel == "" {
		opts.ColorLabel = spec.DefaultColorLabel
	}
	if errs := validation.IsQualifiedName(opts.ColorLabel); len(errs) > 0 {
		return opts, usageError("--color-label %q is not a label key: %s", opts.ColorLabel, strings.Join(errs, "; "))
	}
	if cfg.Quota != nil && cfg.Quota.Name != "" {
		if errs := validation.IsDNS1123Subdomain(cfg.Quota.Name); len(errs) > 0 {
			return opts, usageError("--quota-name %q is not a valid name: %s", cfg.Quota.Name, strings.Join(errs, "; "))
		}
	}
	if w := cfg.Weight; w != nil && (*w < 0 || *w > 100) {
		return opts, usageError("--weight %d: want a percentage, 0 to 100", *w)
	}
	for flag, c := range map[string]spec.Color{"--active": cfg.Active, "--target": cfg.Target} {
		if c != "" && !c.Valid() {
			return opts, usageError("%s %q: expected blue or green", flag, c)
		}
	}
	if cfg.Select != "" {
		sel, err := labels.Parse(cfg.Select)
		if err != nil {
			return opts, usageError("--select %q: %v", cfg.Select, err)
		}
		opts.Select = sel
	}
	if cfg.FromRelease != "" && cfg.FromCluster {
		return opts, usageError("use --from-release or --from-cluster, not both")
	}
	if opts.Namespace == "" {
		opts.Namespace = os.Getenv("HELM_NAMESPACE")
	}
	if cfg.FromRelease == "" && !cfg.FromCluster {
		return opts, nil
	}
	explicit := opts.Namespace != ""
	client, ns, err := cluster.Options{Kubeconfig: cfg.Kubeconfig, Context: cfg.Context, Namespace: opts.Namespace, RequestTimeout: requestTimeout}.Dynamic()
	if err != nil {
		return opts, err
	}
	if cfg.FromRelease != "" && !explicit {
		// Helm does not pass the release namespace to a post-renderer,
		// and the kubeconfig's is only a guess: a release of that name
		// only in other namespaces means either a first install here or
		// an upgrade there. Refuse rather than carry another namespace's
		// live Deployment, or render over this one's live color.
		found, err := postrender.ReleaseNamespaces(ctx, client, cfg.FromRelease, "")
		switch {
		case apierrors.IsForbidden(err):
			fmt.Fprintf(stderr, "bgrender postrender: warning: may not search every namespace for release %s; reading it in namespace %s (pass --namespace)\n", cfg.FromRelease, ns)
		case err != nil:
			return opts, fmt.Errorf("look for release %s: %w", cfg.FromRelease, err)
		case len(found) > 0 && !slices.Contains(found, ns):
			return opts, usageError("release %s is not in namespace %s (the kubeconfig's) but in %s: Helm does not tell a post-renderer the release namespace; pass --post-renderer-args --namespace=NAMESPACE", cfg.FromRelease, ns, strings.Join(found, ", "))
		}
	}
	opts.Namespace = ns
	if cfg.FromRelease != "" {
		opts.Previous = &postrender.Release{Client: client, Namespace: ns, Name: cfg.FromRelease}
	} else {
		opts.Previous = &postrender.Cluster{Client: client, NamespaceGuessed: !explicit}
	}
	return opts, nil
}
