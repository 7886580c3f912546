package evidence

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/gitops"
	"github.com/bgrender/bgrender/status"
)

// Evidence is the case for one change of one app.
type Evidence struct {
	Action string `json:"action"`
	App    string `json:"app"`
	// Path is the app folder in the GitOps repository.
	Path string `json:"path,omitempty"`
	// Change says what changes, in one sentence.
	Change string `json:"change"`
	// Breach is what bgrender guard saw, when the change is its reaction.
	Breach *Breach `json:"breach,omitempty"`
	// Plan is the release's steps, with where each stands when the
	// change is committed.
	Plan []Step `json:"plan,omitempty"`
	// Namespace, Live and Colors are the app as the cluster runs it:
	// the color its active Service selects and each color's Deployment,
	// with its current ReplicaSet (its age) and its HPA when it has one.
	// ClusterNote says why they are missing (no cluster configured, or
	// it could not be read).
	Namespace   string         `json:"namespace,omitempty"`
	Live        string         `json:"live,omitempty"`
	Colors      []status.Color `json:"colors,omitempty"`
	ClusterNote string         `json:"clusterNote,omitempty"`
	// Gates are the gates that ran, in order; NotRun the ones that did
	// not, with why.
	Gates  []gate.Result `json:"gates"`
	NotRun []string      `json:"notRun,omitempty"`
	// ReadAt is when the cluster was read and the evidence assembled.
	ReadAt time.Time `json:"readAt"`
}

// Step is one step of the plan.
type Step struct {
	Step        int    `json:"step"`
	Kind        string `json:"kind"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description"`
	// Status: done, planned, or "this change" for the step that commits
	// the change the evidence goes with.
	Status string `json:"status"`
}

// ThisChange is the Status of the plan's step that commits this change.
const ThisChange = "this change"

// Folder is the app folder as Git held it before the change: what the
// one-sentence change compares with.
type Folder struct {
	Active string
	Images map[string]string // by color
	// Weight is the idle color's share of traffic, when the app splits it.
	Weight *int32
}

// For returns a copy of e completed with the change c makes to the
// folder before: the action, the app and the sentence. A nil e gives
// an Evidence with only those.
func (e *Evidence) For(c *gitops.Change, before Folder) *Evidence {
	var out Evidence
	if e != nil {
		out = *e
		out.Plan = slices.Clone(e.Plan)
		out.Gates = slices.Clone(e.Gates)
	}
	out.Action, out.App, out.Change = c.Action, c.App, Sentence(c, before)
	return &out
}

// NotRunOf lists the gates that have no result in ran, each with why:
// reason for all of them.
func NotRunOf(ran []gate.Result, reason string) []string {
	var out []string
	for _, name := range gate.Names {
		if !slices.ContainsFunc(ran, func(r gate.Result) bool { return r.Gate == name }) {
			out = append(out, name+" ("+reason+")")
		}
	}
	return out
}

// Sentence says what c changes, compared with the folder before it:
// "Selector blue → green: switch traffic from blue to green."
func Sentence(c *gitops.Change, before Folder) string {
	var what string
	switch c.Action {
	case "promote", "rollback":
		if c.From != "" && c.To != "" && c.From != c.To {
			what = fmt.Sprintf("Selector %s → %s", c.From, c.To)
		}
	case "deploy":
		if old := before.Images[c.To]; old != "" && c.Image != "" {
			what = fmt.Sprintf("Image of %s %s → %s", c.To, old, c.Image)
		}
	case "shift":
		w := int32(0)
		if before.Weight != nil {
			w = *before.Weight
		}
		what = fmt.Sprintf("Weight of %s was %d%%", c.To, w)
	}
	summary := strings.TrimSuffix(c.Summary, ".")
	if what == "" {
		if summary == "" {
			return ""
		}
		return strings.ToUpper(summary[:1]) + summary[1:] + "."
	}
	if summary == "" {
		return what + "."
	}
	return what + ": " + summary + "."
}
