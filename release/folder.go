package release

import (
	"context"
	"fmt"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/promote"
)

// ReadFolder reads the app folder in Git and, when no namespace was asked
// for, makes the namespace it names (the spec's metadata.namespace, or
// that of a plain folder's Service and Deployments) the one the cluster is
// read in: the kubeconfig's namespace is only the default of a folder that
// names none. A Flux Kustomization's targetNamespace (read from the
// --reconcile objects, see agent.TargetNamespace) wins over the folder's,
// as Flux applies the objects there; an Argo CD Application's destination
// namespace is only the default of a folder that names none. An asked
// namespace (-n) that disagrees with the folder is bad usage, found before
// anything is committed.
func ReadFolder(ctx context.Context, opts *cluster.Options, t *promote.Target) (*promote.State, error) {
	st, err := t.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
	}
	return st, UseNamespace(opts, t, st)
}

// UseNamespace applies the namespace the folder names (see ReadFolder).
func UseNamespace(opts *cluster.Options, t *promote.Target, st *promote.State) error {
	if st.NamespaceErr != nil {
		return fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, st.NamespaceErr)
	}
	ns := st.Namespace
	if ns == "" {
		return nil
	}
	if err := cluster.ValidName("namespace", ns); err != nil {
		return fmt.Errorf("%s in %s: %s: %w", t.Path, t.Repo.URL, st.NamespaceFrom, err)
	}
	switch {
	case opts.Namespace == "":
		opts.Namespace = ns
	case opts.Namespace == ns:
	case opts.NamespaceFrom != "" && opts.NamespaceOverrides:
		// Flux's targetNamespace: the objects are applied there.
	case opts.NamespaceFrom != "":
		// Argo CD's destination namespace is only the default of objects
		// that name none.
		opts.Namespace, opts.NamespaceFrom = ns, ""
	default:
		return exitcode.Invalidf("-n %s disagrees with the app folder %s in %s, whose namespace is %s (%s): drop -n, or pass -n %s",
			opts.Namespace, t.Path, t.Repo.URL, ns, st.NamespaceFrom, ns)
	}
	return nil
}

// ReadFolder reads the app folder for a promotion before it acts, and
// takes its gates (see UseFolder). With no gate asked for and nothing to
// do after the push (after false), a folder that declares no gates (or
// --no-spec-gates) is read for nothing: ReadFolder returns nil, and the
// action runs as it would without gates, needing no cluster and no
// namespace.
func (g *Gates) ReadFolder(ctx context.Context, t *promote.Target, after bool) (*promote.State, error) {
	if !after && !g.WantFolder() {
		return nil, nil
	}
	st, err := t.Read(ctx)
	if err != nil {
		if !after && !g.Checks.Any() {
			return nil, fmt.Errorf("%s: %w", t.Path, err) // as the action would say it
		}
		return nil, fmt.Errorf("read %s in %s: %w", t.Path, t.Repo.URL, err)
	}
	if len(st.Autoscalers) > 0 && !g.CapacityOff && !g.Checks.Capacity && !g.NoCluster {
		// The colors scale on their own: what the folder says of their
		// replicas is no guide, so the flip reads the cluster first.
		g.Checks.Capacity = true
		if _, _, err := g.Cluster.Config(); err != nil {
			return nil, fmt.Errorf("%w (the folder's HorizontalPodAutoscalers make a flip check capacity in the cluster first; --capacity=false turns that off)", err)
		}
	}
	if len(st.ExpandJobs) > 0 && !g.NoSpec && !g.NoCluster {
		// spec.migrations: the color to promote must have run its
		// image's expand Job.
		g.Checks.ExpandJobs = map[string]string{}
		for c, job := range st.ExpandJobs {
			g.Checks.ExpandJobs[string(c)] = job
		}
		if _, _, err := g.Cluster.Config(); err != nil {
			return nil, fmt.Errorf("%w (the folder's expand migrations — spec.migrations, or a Job marked bgrender.io/migration — make a flip check its expand Job in the cluster first; --%s leaves it out)", err, gate.NoSpecGatesFlag)
		}
	}
	if !after && !g.Checks.Any() && (st.Gates == nil || g.NoSpec) {
		return nil, nil
	}
	if err := UseNamespace(g.Cluster, t, st); err != nil {
		return nil, err
	}
	return st, g.UseFolder(st)
}
