package postrender

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"os"

	"github.com/bgrender/bgrender/spec"
)

// ConfigKind is the kind of a post-renderer configuration file.
const ConfigKind = "PostRenderConfig"

// Config is the file that --config reads: the same settings as the flags,
// so that Helm's argument list stays short. Flags given on the command line
// win over the file.
type Config struct {
	APIVersion  string     `json:"apiVersion,omitempty"`
	Kind        string     `json:"kind,omitempty"`
	ColorLabel  string     `json:"colorLabel,omitempty"`
	Select      string     `json:"select,omitempty"`
	Skip        []string   `json:"skip,omitempty"`
	Active      spec.Color `json:"active,omitempty"`
	Target      spec.Color `json:"target,omitempty"`
	Namespace   string     `json:"namespace,omitempty"`
	Kubeconfig  string     `json:"kubeconfig,omitempty"`
	Context     string     `json:"context,omitempty"`
	FromRelease string     `json:"fromRelease,omitempty"`
	FromCluster bool       `json:"fromCluster,omitempty"`
	// FromDir and FromFile read the previous state from manifests on
	// disk: the post-renderer's previous output, as committed to Git.
	FromDir       string                `json:"fromDir,omitempty"`
	FromFile      string                `json:"fromFile,omitempty"`
	NetworkPolicy *NetworkPolicyOptions `json:"networkPolicy,omitempty"`
	Quota         *QuotaOptions         `json:"quota,omitempty"`
	// Weight is --weight: the idle color's percent on the chart's HTTPRoutes.
	Weight *int32 `json:"weight,omitempty"`
}

// LoadConfig reads and strictly decodes a configuration file; errors name
// the file, line and field.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := spec.Unmarshal(path, data, &c); err != nil {
		return nil, err
	}
	var errs spec.ErrorList
	if c.APIVersion != "" && c.APIVersion != spec.APIVersion {
		errs = append(errs, &spec.FieldError{File: path, Path: "apiVersion", Msg: fmt.Sprintf("expected %s, got %q", spec.APIVersion, c.APIVersion)})
	}
	if c.Kind != "" && c.Kind != ConfigKind {
		errs = append(errs, &spec.FieldError{File: path, Path: "kind", Msg: fmt.Sprintf("expected %s, got %q", ConfigKind, c.Kind)})
	}
	for field, col := range map[string]spec.Color{"active": c.Active, "target": c.Target} {
		if col != "" && !col.Valid() {
			errs = append(errs, &spec.FieldError{File: path, Path: field, Msg: fmt.Sprintf("%q: expected blue or green", col)})
		}
	}
	if c.NetworkPolicy != nil {
		if err := ValidateNetworkPolicy(c.NetworkPolicy); err != nil {
			errs = append(errs, &spec.FieldError{File: path, Path: "networkPolicy", Msg: err.Error()})
		}
	}
	if c.sources() > 1 {
		errs = append(errs, &spec.FieldError{File: path, Path: "fromCluster", Msg: "use one of fromRelease, fromCluster, fromDir and fromFile"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}

// sources counts the previous states the configuration names.
func (c *Config) sources() int {
	n := 0
	for _, set := range []bool{c.FromRelease != "", c.FromCluster, c.FromDir != "", c.FromFile != ""} {
		if set {
			n++
		}
	}
	return n
}

// ValidateNetworkPolicy checks the settings that the renderer would
// otherwise take as they are: the mode and the CIDRs.
func ValidateNetworkPolicy(o *NetworkPolicyOptions) error {
	var problems []string
	switch o.Mode {
	case "", spec.NetworkPolicyStandard, spec.NetworkPolicyStrict:
	default:
		problems = append(problems, fmt.Sprintf("mode %q: want standard or strict", o.Mode))
	}
	for field, cidrs := range map[string][]string{"externalCIDRs": o.ExternalCIDRs, "podCIDRs": o.PodCIDRs} {
		for _, cidr := range cidrs {
			if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
				problems = append(problems, fmt.Sprintf("%s: %q is not a CIDR such as 10.244.0.0/16", field, cidr))
			}
		}
	}
	for field, p := range map[string]*spec.PeerSpec{"ingressController": o.IngressController, "prometheus": o.Prometheus} {
		if p != nil && p.Namespace != "" && len(validation.IsDNS1123Label(p.Namespace)) > 0 {
			problems = append(problems, fmt.Sprintf("%s.namespace %q is not a namespace name", field, p.Namespace))
		}
	}
	if len(problems) == 0 {
		// The peers, label keys and egress rules, checked as a spec's
		// networkPolicy is (what the API server would refuse).
		app := &spec.BlueGreenApp{Metadata: spec.ObjectMeta{Name: "chart"}, Spec: spec.AppSpec{
			Blue: spec.ColorSpec{Image: "x"}, Green: spec.ColorSpec{Image: "x"},
			Ports: []spec.Port{{ContainerPort: 8080}},
			NetworkPolicy: spec.NetworkPolicySpec{Mode: o.Mode, IngressController: o.IngressController.DeepCopy(), Prometheus: o.Prometheus.DeepCopy(),
				ExternalCIDRs: o.ExternalCIDRs, PodCIDRs: o.PodCIDRs, APIServer: o.APIServer, AllowFrom: o.AllowFrom, Egress: o.Egress},
		}}
		spec.Default(app)
		for _, fe := range spec.Validate(app) {
			if strings.HasPrefix(fe.Path, "spec.networkPolicy.") {
				problems = append(problems, strings.TrimPrefix(fe.Path, "spec.")+": "+strings.ReplaceAll(fe.Msg, "this app's own", "the chart's own"))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
