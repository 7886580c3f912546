// Package cluster connects bgrender to a Kubernetes API server the way
// kubectl does, without kubectl: client-go's standard loading rules
// (KUBECONFIG, ~/.kube/config, or the in-cluster service account when run
// as a pod), with optional kubeconfig, context and namespace overrides.
package cluster

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options select the cluster and namespace; empty fields take the
// kubeconfig's current context and namespace.
type Options struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// Config returns the REST config and the namespace to work in: the
// explicit one, else HELM_NAMESPACE (which Helm sets for its plugins),
// else the context's namespace, else "default".
func (o Options) Config() (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "bgrender"
	ns := o.Namespace
	if ns == "" {
		ns = os.Getenv("HELM_NAMESPACE")
	}
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	return cfg, ns, nil
}

// Dynamic returns a dynamic client and the namespace to work in. bgrender
// reads the few kinds it needs as unstructured objects: the typed
// clientset registers every API group at start-up, which would cost every
// command (and every helm install that runs the post-renderer) milliseconds.
func (o Options) Dynamic() (dynamic.Interface, string, error) {
	cfg, ns, err := o.Config()
	if err != nil {
		return nil, "", err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("create Kubernetes client: %w", err)
	}
	return dc, ns, nil
}

// Resources that bgrender reads.
var (
	Secrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	ConfigMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	Services    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	Deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)
