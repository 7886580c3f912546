// Package cluster connects bgrender to a Kubernetes API server the way
// kubectl does, without kubectl: client-go's standard loading rules
// (KUBECONFIG, ~/.kube/config, or the in-cluster service account when run
// as a pod), with optional kubeconfig, context and namespace overrides.
//
// Every ordinary request is bounded by a timeout (DefaultRequestTimeout
// unless Options.RequestTimeout says otherwise), so that an API server
// that accepts connections but never answers cannot hang a command.
// Watches last as long as their caller wants: they take a client made
// from ForWatch, bounded by a context instead.
package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bgrender/bgrender/internal/exitcode"
)

// DefaultRequestTimeout bounds each ordinary API request when
// Options.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second

// Options select the cluster and namespace; empty fields take the
// kubeconfig's current context and namespace.
type Options struct {
	Kubeconfig string
	Context    string
	Namespace  string
	// NamespaceFrom is set when Namespace was not asked for (-n) but read
	// from the GitOps agent's object (agent.TargetNamespace): the field
	// that says it, for messages. NamespaceOverrides is true when that
	// agent applies every object there, whatever the folder names (Flux's
	// targetNamespace); otherwise a namespace the folder names wins.
	NamespaceFrom      string
	NamespaceOverrides bool
	// RequestTimeout bounds each ordinary request (not a watch); 0 is
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Validate reports options that no cluster could accept (bad usage, exit
// 2): a namespace that is not a DNS-1123 label, a negative request
// timeout.
func (o Options) Validate() error {
	if o.Namespace != "" {
		if err := ValidName("namespace", o.Namespace); err != nil {
			return err
		}
	}
	if o.RequestTimeout < 0 {
		return exitcode.Invalidf("--request-timeout %s: must be positive", o.RequestTimeout)
	}
	return nil
}

// ValidName reports, as bad usage, a name that is not a DNS-1123 label
// (lowercase letters, digits and '-', at most 63 characters), which every
// namespace, Service and app name of bgrender is. what names the value in
// the message: "namespace", "app name".
func ValidName(what, name string) error {
	if len(validation.IsDNS1123Label(name)) > 0 {
		return exitcode.Invalidf("%s %q is not valid: want at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", what, name)
	}
	return nil
}

// Config returns the REST config and the namespace to work in: the
// explicit one, else HELM_NAMESPACE (which Helm sets for its plugins),
// else the context's namespace, else "default". A kubeconfig file that
// does not exist or does not parse, or a context it does not have, is bad
// usage (exit 2); a server that cannot be reached shows only on the first
// request (exit 1).
func (o Options) Config() (*rest.Config, string, error) {
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", exitcode.Invalidf("kubeconfig %s: no such file", o.Kubeconfig)
			}
			return nil, "", exitcode.Invalidf("kubeconfig %s: %w", o.Kubeconfig, err)
		}
		rules.ExplicitPath = o.Kubeconfig
	}
	// Load the files once here, to tell a bad file (the caller's to fix)
	// from a cluster that fails; the error names the file.
	loaded, err := rules.Load()
	if err != nil {
		return nil, "", exitcode.Invalidf("load kubeconfig: %w", err)
	}
	if _, ok := loaded.Contexts[o.Context]; o.Context != "" && !ok {
		return nil, "", exitcode.Invalidf("context %q does not exist in the kubeconfig", o.Context)
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		switch {
		case clientcmd.IsEmptyConfig(err) && o.Kubeconfig != "":
			return nil, "", exitcode.Invalidf("kubeconfig %s: names no cluster and no current context", o.Kubeconfig)
		case clientcmd.IsEmptyConfig(err):
			return nil, "", exitcode.Invalidf("no cluster: set KUBECONFIG or --kubeconfig (or run in a pod)")
		case clientcmd.IsConfigurationInvalid(err):
			return nil, "", exitcode.Invalidf("load kubeconfig: %w", err)
		}
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "bgrender"
	cfg.Timeout = o.RequestTimeout
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultRequestTimeout
	}
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

// ForWatch returns a copy of cfg without the per-request timeout, for
// clients that watch: rest.Config.Timeout would end every watch after
// that long, so a watch is bounded by its context instead.
func ForWatch(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Timeout = 0
	return c
}

// Dynamic returns a dynamic client and the namespace to work in. bgrender
// reads the few kinds it needs as unstructured objects: the typed
// clientset registers every API group at start-up, which would cost every
// command (and every helm install that runs the post-renderer) milliseconds.
// Its requests are bounded by the request timeout: do not watch with it
// (see ForWatch).
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
	HPAs        = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
)
