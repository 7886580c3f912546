package fleet

import "time"

// APIVersion and Kind identify a fleet file.
const (
	APIVersion = "bgrender.io/v1alpha1"
	Kind       = "Fleet"
	// SchemaID is the $id of the fleet file's JSON Schema.
	SchemaID = "https://bgrender.io/schema/v1alpha1/fleet.schema.json"
)

// What a breach during a wave's hold does.
const (
	// RollbackWave rolls back the breaching wave's targets (the default).
	RollbackWave = "rollback-wave"
	// RollbackAll rolls back every target this release moved so far.
	RollbackAll = "rollback-all"
	// Halt stops the fleet and commits nothing: a person decides.
	Halt = "halt"
)

// Defaults of a wave.
const (
	DefaultHold     = 5 * time.Minute
	DefaultInterval = 10 * time.Second
)

// Fleet is a fleet file: one app released across many clusters in waves.
type Fleet struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// File is where the fleet was read from; lines locate its fields.
	File string `json:"-"`
	// RequestTimeout bounds each request to a target's cluster (0:
	// cluster.DefaultRequestTimeout).
	RequestTimeout time.Duration  `json:"-"`
	lines          map[string]int `json:"-"`
}

// Metadata names the fleet.
type Metadata struct {
	Name string `json:"name"`
}

// Spec is the fleet's targets and waves, and what its targets share.
type Spec struct {
	// Repo is the GitOps repository of every target that names none.
	Repo string `json:"repo,omitempty"`
	// Branch is the branch of every target that names none (default: the
	// remote's default branch).
	Branch string `json:"branch,omitempty"`
	// Kubeconfig is the kubeconfig file of every target that names none
	// (default: KUBECONFIG or ~/.kube/config), relative to the fleet file.
	Kubeconfig string   `json:"kubeconfig,omitempty"`
	Targets    []Target `json:"targets"`
	Waves      []Wave   `json:"waves"`
}

// Target is one app folder and the cluster it is applied to.
type Target struct {
	Name   string `json:"name"`
	Repo   string `json:"repo,omitempty"`
	Branch string `json:"branch,omitempty"`
	Path   string `json:"path"`
	// Context and Kubeconfig reach the target's cluster; Namespace is the
	// app's (default: the folder's, else the context's).
	Context    string            `json:"context,omitempty"`
	Kubeconfig string            `json:"kubeconfig,omitempty"`
	Namespace  string            `json:"namespace,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Reconcile asks the target's GitOps agent to apply each commit now
	// (as --reconcile: KIND/NAMESPACE/NAME).
	Reconcile []string `json:"reconcile,omitempty"`
}

// Wave is a set of targets that move together, named or selected by
// their labels.
type Wave struct {
	Name     string    `json:"name"`
	Targets  []string  `json:"targets,omitempty"`
	Selector *Selector `json:"selector,omitempty"`
	// MaxParallel is at most how many targets move at once (0: all).
	MaxParallel int `json:"maxParallel,omitempty"`
	// Hold is how long guard watches the wave once it is live, every
	// Interval, before the next wave starts.
	Hold     string `json:"hold,omitempty"`
	Interval string `json:"interval,omitempty"`
	OnBreach string `json:"onBreach,omitempty"`

	// The resolved wave (see Check).
	members        []*Target
	hold, interval time.Duration
}

// Selector selects targets by their labels, as a Kubernetes label
// selector's matchLabels does.
type Selector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// Members are the wave's targets, in the order of the fleet file.
func (w *Wave) Members() []*Target { return w.members }

// HoldFor and Every are the wave's hold and the interval of its probes.
func (w *Wave) HoldFor() time.Duration { return w.hold }
func (w *Wave) Every() time.Duration   { return w.interval }

// Breach is what a breach during the wave's hold does.
func (w *Wave) Breach() string {
	if w.OnBreach == "" {
		return RollbackWave
	}
	return w.OnBreach
}

// RepoOf and BranchOf are a target's repository and branch, the fleet's
// when it names none.
func (f *Fleet) RepoOf(t *Target) string   { return firstSet(t.Repo, f.Spec.Repo) }
func (f *Fleet) BranchOf(t *Target) string { return firstSet(t.Branch, f.Spec.Branch) }

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
