package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

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
		long:    postrenderLong,
		example: postrenderExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			f := &postrenderFlags{fs: fs}
			f.register(fs)
			return func(args []string) error { return f.run(s, args) }
		},
	}
}

// postrenderFlags are postrender's flags, which override the config file.
type postrenderFlags struct {
	fs                                       *pflag.FlagSet
	configPath, colorLabel, selector, active string
	target, fromRelease, namespace           string
	fromDir, fromFile                        string
	kubeconfig, kubeContext, policyMode      string
	quotaName                                string
	skip, podCIDRs                           []string
	fromCluster, networkPolicy, quota        bool
	requestTimeout                           time.Duration
	weight                                   int32
}

func (f *postrenderFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "", "read settings from a PostRenderConfig `FILE`; flags win over it")
	fs.StringVar(&f.colorLabel, "color-label", spec.DefaultColorLabel, "label `KEY` that carries the color")
	fs.StringVar(&f.selector, "select", "", "transform only Deployments whose labels match this label `SELECTOR` (default: all)")
	fs.StringArrayVar(&f.skip, "skip", nil, "leave the Deployment, Service or PodDisruptionBudget `NAME` as it is (repeatable), as the bgrender.io/skip annotation does")
	fs.StringVar(&f.active, "active", "", "the live `COLOR` (blue or green); default: the previous release's, else blue")
	fs.StringVar(&f.target, "target", "", "the `COLOR` that gets the new render (default: the one that is not active)")
	fs.StringVar(&f.fromRelease, "from-release", "", "carry the active color forward from the last deployed revision of Helm `RELEASE`")
	fs.BoolVar(&f.fromCluster, "from-cluster", false, "carry the active color forward from the live cluster")
	fs.StringVar(&f.fromDir, "from-dir", "", "carry the active color forward from the manifests in `DIR` (the previous output, as committed to Git; its .yaml and .yml files)")
	fs.StringVar(&f.fromFile, "from-file", "", "carry the active color forward from the manifests in `FILE` (the previous output)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "release `NAMESPACE` (default: $HELM_NAMESPACE; else, with --from-release, the namespace that holds the release, else the kubeconfig's)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig `FILE` (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&f.kubeContext, "kube-context", "", "kubeconfig `CONTEXT` to use (as Helm's flag is named)")
	fs.StringVar(&f.kubeContext, "context", "", "the same as --kube-context, as the other commands name it")
	fs.DurationVar(&f.requestTimeout, "request-timeout", cluster.DefaultRequestTimeout, "give up on an API request after this `DURATION`")
	fs.BoolVar(&f.networkPolicy, "network-policy", false, "add per-color NetworkPolicies: blue and green cannot reach each other; standard mode admits the Ingress controller (namespace ingress-nginx), outside clients of LoadBalancer/NodePort Services and Prometheus (namespace monitoring)")
	fs.StringVar(&f.policyMode, "network-policy-mode", "", "with --network-policy: `MODE` standard (default) or strict (only the same color and the config file's allowFrom; egress cut to DNS and the same color)")
	fs.StringArrayVar(&f.podCIDRs, "pod-cidr", nil, "with --network-policy: the cluster's pod `CIDR`, excepted from the outside clients' ipBlock (repeatable; see the README for CNIs that need it)")
	fs.BoolVar(&f.quota, "quota", false, "add a ResourceQuota computed from both colors")
	fs.StringVar(&f.quotaName, "quota-name", "bgrender", "`NAME` of the ResourceQuota")
	fs.Int32Var(&f.weight, "weight", 0, "the idle color's share of requests in `PERCENT` (0 to 100) on the chart's Gateway API HTTPRoutes: each rule whose only backend is a transformed Service S sends to per-color Services S-blue and S-green, weighted; an Ingress to a transformed Service is refused")
}

func (f *postrenderFlags) run(s streams, args []string) error {
	if len(args) > 0 {
		return usageError("postrender reads manifests from standard input and takes no arguments (got %q)", args[0])
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if f.requestTimeout <= 0 {
		return usageError("--request-timeout %s: must be positive", f.requestTimeout)
	}
	ctx := context.Background()
	opts, err := cfg.Options(ctx, f.requestTimeout, s.err)
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

// config reads --config and lays the flags given on the command line over
// it.
func (f *postrenderFlags) config() (*postrender.Config, error) {
	fs := f.fs
	cfg := &postrender.Config{}
	if f.configPath != "" {
		loaded, err := postrender.LoadConfig(f.configPath)
		if err != nil {
			return nil, exitcode.InvalidInput(err)
		}
		cfg = loaded
	}
	set := func(name string, apply func()) {
		if fs.Changed(name) {
			apply()
		}
	}
	for _, name := range []string{"color-label", "quota-name", "namespace", "kubeconfig", "kube-context", "context", "from-release", "from-dir", "from-file", "select", "active", "target", "config"} {
		if fl := fs.Lookup(name); fs.Changed(name) && fl.Value.String() == "" {
			return nil, usageError("--%s: give a value", name)
		}
	}
	set("color-label", func() { cfg.ColorLabel = f.colorLabel })
	set("select", func() { cfg.Select = f.selector })
	set("skip", func() { cfg.Skip = append(cfg.Skip, f.skip...) })
	set("active", func() { cfg.Active = spec.Color(f.active) })
	set("target", func() { cfg.Target = spec.Color(f.target) })
	set("from-release", func() { cfg.FromRelease = f.fromRelease })
	set("from-cluster", func() { cfg.FromCluster = f.fromCluster })
	set("from-dir", func() { cfg.FromDir = f.fromDir })
	set("from-file", func() { cfg.FromFile = f.fromFile })
	set("namespace", func() { cfg.Namespace = f.namespace })
	set("kubeconfig", func() { cfg.Kubeconfig = f.kubeconfig })
	set("kube-context", func() { cfg.Context = f.kubeContext })
	set("context", func() { cfg.Context = f.kubeContext })
	set("weight", func() { cfg.Weight = &f.weight })
	return cfg, f.policyAndQuota(cfg)
}

// policyAndQuota lays the NetworkPolicy and quota flags over cfg.
func (f *postrenderFlags) policyAndQuota(cfg *postrender.Config) error {
	fs := f.fs
	if f.networkPolicy && cfg.NetworkPolicy == nil {
		cfg.NetworkPolicy = &postrender.NetworkPolicyOptions{}
	}
	if (fs.Changed("network-policy-mode") || fs.Changed("pod-cidr")) && cfg.NetworkPolicy == nil {
		return usageError("--network-policy-mode and --pod-cidr need --network-policy")
	}
	if cfg.NetworkPolicy != nil {
		if fs.Changed("network-policy-mode") {
			cfg.NetworkPolicy.Mode = spec.NetworkPolicyMode(f.policyMode)
		}
		if fs.Changed("pod-cidr") {
			cfg.NetworkPolicy.PodCIDRs = append(cfg.NetworkPolicy.PodCIDRs, f.podCIDRs...)
		}
		if err := postrender.ValidateNetworkPolicy(cfg.NetworkPolicy); err != nil {
			return usageError("%v", err)
		}
	}
	if f.quota && cfg.Quota == nil {
		cfg.Quota = &postrender.QuotaOptions{}
	}
	if cfg.Quota != nil && fs.Changed("quota-name") {
		cfg.Quota.Name = f.quotaName
	}
	return nil
}
