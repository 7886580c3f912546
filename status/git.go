package status

import (
	"fmt"
	"github.com/bgrender/bgrender/spec"
	"slices"
)

// Wanted is what the GitOps repository says an app should run.
type Wanted struct {
	Repo   string `json:"repo"`
	Path   string `json:"path"`
	Branch string `json:"branch,omitempty"`
	// Live is the color that Git routes traffic to.
	Live     string            `json:"live"`
	Images   map[string]string `json:"images"`
	Replicas map[string]int32  `json:"replicas,omitempty"`
	// Weight is the idle color's share of traffic in Git (spec.traffic).
	Weight *int32 `json:"weight,omitempty"`
	// Shifted is the color the weight goes to (default: the color that is
	// not Live); Handover says that a stepped promotion flipped the
	// Services while the NGINX canary carries the weight to the new live
	// color, and has not ended that yet.
	Shifted  string `json:"shifted,omitempty"`
	Handover bool   `json:"handover,omitempty"`
	// Drift lists how the cluster differs from Git; empty when in sync.
	Drift []string `json:"drift"`
	// Unchecked lists what could not be compared, and why.
	Unchecked []string `json:"unchecked,omitempty"`
}

// CompareWith records what Git wants on the app and how the cluster
// differs from it: the live color, each color's image and replica count.
// A difference is expected for a while after a commit, until Argo CD or
// Flux has applied it.
func (a *App) CompareWith(w Wanted) {
	w.Drift = []string{}
	if a.Live != w.Live {
		w.Drift = append(w.Drift, fmt.Sprintf("Git routes traffic to %s, the cluster to %s", w.Live, orNone(a.Live)))
	}
	for _, c := range a.Colors {
		image, ok := w.Images[c.Color]
		if _, inGit := w.Replicas[c.Color]; !ok && inGit {
			w.Unchecked = append(w.Unchecked, fmt.Sprintf("%s: the image, since the Deployment in Git has several containers (name one with --container)", c.Color))
		}
		switch {
		case !ok:
		case !c.Found:
			w.Drift = append(w.Drift, fmt.Sprintf("%s: Git has Deployment %s, the cluster does not", c.Color, c.Deployment))
			continue
		case !slices.Contains(c.Images, image):
			w.Drift = append(w.Drift, fmt.Sprintf("%s: Git wants image %s, the cluster runs %s", c.Color, image, orNone(joinImages(c.Images))))
		}
		// A color that an HPA scales runs what the HPA decides; Git holds
		// only its floor, so a count above it is no drift.
		if n, ok := w.Replicas[c.Color]; ok && c.Found && c.Autoscaler == nil && n != c.Desired {
			w.Drift = append(w.Drift, fmt.Sprintf("%s: Git wants %d replicas, the cluster %d", c.Color, n, c.Desired))
		}
	}
	if w.Weight != nil && spec.Color(w.Live).Valid() {
		to := spec.Color(w.Live).Other()
		if c := spec.Color(w.Shifted); c.Valid() {
			to = c
		}
		want := map[string]int32{string(to): *w.Weight, string(to.Other()): 100 - *w.Weight}
		switch {
		case a.Traffic == nil:
			w.Drift = append(w.Drift, "Git splits traffic, the cluster shows no HTTPRoute or canary Ingress of the app (or no permission to read them)")
		case a.Traffic.Weights["blue"] != want["blue"] || a.Traffic.Weights["green"] != want["green"]:
			w.Drift = append(w.Drift, fmt.Sprintf("Git splits traffic blue %d%%, green %d%%; the cluster's %s %s blue %d%%, green %d%%",
				want["blue"], want["green"], a.Traffic.Kind, a.Traffic.Route, a.Traffic.Weights["blue"], a.Traffic.Weights["green"]))
		}
	}
	a.Git = &w
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func joinImages(images []string) string {
	out := ""
	for i, im := range images {
		if i > 0 {
			out += ", "
		}
		out += im
	}
	return out
}
