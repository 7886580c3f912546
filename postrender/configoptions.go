package postrender

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// Options checks the settings (bad usage, exit 2) and connects to the
// cluster when the previous state is read from it; warnings go to stderr.
func (cfg *Config) Options(ctx context.Context, requestTimeout time.Duration, stderr io.Writer) (Options, error) {
	opts := Options{
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
		return opts, exitcode.Invalidf("--color-label %q is not a label key: %s", opts.ColorLabel, strings.Join(errs, "; "))
	}
	if cfg.Quota != nil && cfg.Quota.Name != "" {
		if errs := validation.IsDNS1123Subdomain(cfg.Quota.Name); len(errs) > 0 {
			return opts, exitcode.Invalidf("--quota-name %q is not a valid name: %s", cfg.Quota.Name, strings.Join(errs, "; "))
		}
	}
	if w := cfg.Weight; w != nil && (*w < 0 || *w > 100) {
		return opts, exitcode.Invalidf("--weight %d: want a percentage, 0 to 100", *w)
	}
	for flag, c := range map[string]spec.Color{"--active": cfg.Active, "--target": cfg.Target} {
		if c != "" && !c.Valid() {
			return opts, exitcode.Invalidf("%s %q: expected blue or green", flag, c)
		}
	}
	if cfg.Select != "" {
		sel, err := labels.Parse(cfg.Select)
		if err != nil {
			return opts, exitcode.Invalidf("--select %q: %v", cfg.Select, err)
		}
		opts.Select = sel
	}
	if cfg.sources() > 1 {
		return opts, exitcode.Invalidf("use one of --from-release, --from-cluster, --from-dir and --from-file")
	}
	if opts.Namespace == "" {
		opts.Namespace = os.Getenv("HELM_NAMESPACE")
	}
	if cfg.FromDir != "" || cfg.FromFile != "" {
		return opts, cfg.fromDisk(&opts)
	}
	if cfg.FromRelease == "" && !cfg.FromCluster {
		return opts, nil
	}
	return opts, cfg.previous(ctx, &opts, requestTimeout, stderr)
}

// fromDisk reads the previous state from manifests on disk: a folder
// for --from-dir, a file for --from-file.
func (cfg *Config) fromDisk(opts *Options) error {
	flag, path, wantDir := "--from-dir", cfg.FromDir, true
	if cfg.FromFile != "" {
		flag, path, wantDir = "--from-file", cfg.FromFile, false
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return exitcode.Invalidf("%s: %v", flag, err)
	case wantDir && !fi.IsDir():
		return exitcode.Invalidf("%s %s: not a folder (use --from-file for a file)", flag, path)
	case !wantDir && fi.IsDir():
		return exitcode.Invalidf("%s %s: a folder (use --from-dir)", flag, path)
	}
	opts.Previous = &Folder{Path: path, Namespace: opts.Namespace, ColorLabel: opts.ColorLabel}
	return nil
}

// previous connects to the cluster to read the previous state: the last
// deployed revision of the release, or the live cluster.
func (cfg *Config) previous(ctx context.Context, opts *Options, requestTimeout time.Duration, stderr io.Writer) error {
	explicit := opts.Namespace != ""
	client, ns, err := cluster.Options{Kubeconfig: cfg.Kubeconfig, Context: cfg.Context, Namespace: opts.Namespace, RequestTimeout: requestTimeout}.Dynamic()
	if err != nil {
		return err
	}
	if cfg.FromRelease != "" && !explicit {
		// Helm does not pass the release namespace to a post-renderer,
		// and the kubeconfig's is only a guess: a release of that name
		// only in other namespaces means either a first install here or
		// an upgrade there. Refuse rather than carry another namespace's
		// live Deployment, or render over this one's live color.
		found, err := ReleaseNamespaces(ctx, client, cfg.FromRelease, "")
		switch {
		case apierrors.IsForbidden(err):
			fmt.Fprintf(stderr, "bgrender postrender: warning: may not search every namespace for release %s; reading it in namespace %s (pass --namespace)\n", cfg.FromRelease, ns)
		case err != nil:
			return fmt.Errorf("look for release %s: %w", cfg.FromRelease, err)
		case len(found) > 0 && !slices.Contains(found, ns):
			return exitcode.Invalidf("release %s is not in namespace %s (the kubeconfig's) but in %s: Helm does not tell a post-renderer the release namespace; pass --post-renderer-args --namespace=NAMESPACE", cfg.FromRelease, ns, strings.Join(found, ", "))
		}
	}
	opts.Namespace = ns
	if cfg.FromRelease != "" {
		opts.Previous = &Release{Client: client, Namespace: ns, Name: cfg.FromRelease}
	} else {
		opts.Previous = &Cluster{Client: client, NamespaceGuessed: !explicit}
	}
	return nil
}
