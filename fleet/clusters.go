package fleet

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/spec"
)

// KubeconfigOf is the kubeconfig file of a target: its own, else the
// fleet's, relative to the fleet file's folder; empty: the default
// (KUBECONFIG, else ~/.kube/config).
func (f *Fleet) KubeconfigOf(t *Target) string {
	k := firstSet(t.Kubeconfig, f.Spec.Kubeconfig)
	if k == "" || filepath.IsAbs(k) || f.File == "" || f.File == "-" {
		return k
	}
	return filepath.Join(filepath.Dir(f.File), k)
}

// Cluster is how the target's cluster is reached: its kubeconfig,
// context and namespace.
func (f *Fleet) Cluster(t *Target) *cluster.Options {
	return &cluster.Options{Kubeconfig: f.KubeconfigOf(t), Context: t.Context, Namespace: t.Namespace, RequestTimeout: f.RequestTimeout}
}

// ClusterName is the target's cluster as tables show it: its context, or
// "(current context)".
func ClusterName(t *Target) string {
	if t.Context != "" {
		return t.Context
	}
	return "(current context)"
}

// CheckContexts loads each target's kubeconfig, without contacting any
// cluster, and refuses (exit code 2, with the file and line of the
// field) a kubeconfig that is missing or does not parse and a context it
// does not have.
func (f *Fleet) CheckContexts() error {
	loaded := map[string]*clientcmdapi.Config{}
	failed := map[string]bool{}
	var errs spec.ErrorList
	for i := range f.Spec.Targets {
		t := &f.Spec.Targets[i]
		p := fmt.Sprintf("spec.targets[%d]", i)
		file := f.KubeconfigOf(t)
		cfg, ok := loaded[file]
		if !ok && !failed[file] {
			var err error
			if cfg, err = loadKubeconfig(file); err != nil {
				failed[file] = true
				errs = append(errs, &spec.FieldError{File: f.File, Line: f.line(kubeconfigField(t, p)), Path: kubeconfigField(t, p), Msg: err.Error()})
				continue
			}
			loaded[file] = cfg
		}
		if cfg == nil || t.Context == "" {
			continue
		}
		if _, ok := cfg.Contexts[t.Context]; !ok {
			errs = append(errs, &spec.FieldError{File: f.File, Line: f.line(p + ".context"), Path: p + ".context",
				Msg: fmt.Sprintf("context %q does not exist in the kubeconfig%s", t.Context, inFile(file))})
		}
	}
	if len(errs) > 0 {
		return exitcode.InvalidInput(errs)
	}
	return nil
}

// kubeconfigField is the field that names a target's kubeconfig.
func kubeconfigField(t *Target, p string) string {
	if t.Kubeconfig != "" {
		return p + ".kubeconfig"
	}
	return "spec.kubeconfig"
}

func inFile(file string) string {
	if file == "" {
		return ""
	}
	return " " + file
}

// loadKubeconfig loads file, or the default kubeconfig when it is empty,
// as cluster.Options.Config does.
func loadKubeconfig(file string) (*clientcmdapi.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", file, spec.UnwrapPathError(err))
		}
		rules.ExplicitPath = file
	}
	cfg, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}
