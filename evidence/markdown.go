package evidence

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/status"
)

// maxDiff bounds the diff in a body: the forges cap a body at 64 KiB
// (GitHub 65536 characters, Gitea and GitLab more), and the reviewer has
// the pull request's own diff view.
const maxDiff = 20000

// Markdown writes the evidence as a pull request's body: a few lines and
// two tables a reviewer decides from, then the plan and the diff in
// collapsed sections. It renders alike on GitHub, GitLab and Gitea.
func (e *Evidence) Markdown(diff string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** of **%s**", e.Action, e.App)
	if e.Path != "" {
		fmt.Fprintf(&b, " (`%s`)", e.Path)
	}
	if e.Namespace != "" {
		fmt.Fprintf(&b, " in namespace `%s`", e.Namespace)
	}
	b.WriteString(", opened by bgrender.\n\n")
	if e.Change != "" {
		fmt.Fprintf(&b, "%s\n\n", e.Change)
	}
	if e.Breach != nil {
		b.WriteString(e.Breach.Markdown())
		b.WriteString("\n")
	}
	e.writeColors(&b)
	e.writeGates(&b)
	if !e.ReadAt.IsZero() {
		fmt.Fprintf(&b, "Read at %s.\n\n", e.ReadAt.UTC().Format(time.RFC3339))
	}
	if len(e.Plan) > 0 {
		steps := "steps"
		if len(e.Plan) == 1 {
			steps = "step"
		}
		fmt.Fprintf(&b, "<details><summary>Plan: %d %s</summary>\n\n", len(e.Plan), steps)
		for _, s := range e.Plan {
			label := ""
			if s.Label != "" {
				label = s.Label + ": "
			}
			fmt.Fprintf(&b, "%d. %s%s: %s — *%s*\n", s.Step, label, s.Kind, inline(s.Description), s.Status)
		}
		b.WriteString("\n</details>\n\n")
	}
	if diff != "" {
		b.WriteString("<details><summary>Diff</summary>\n\n```diff\n")
		b.WriteString(fence(diff))
		if !strings.HasSuffix(diff, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("```\n\n</details>\n")
	}
	return b.String()
}

// writeColors writes both colors as the cluster runs them, or why they
// are not known.
func (e *Evidence) writeColors(b *strings.Builder) {
	if len(e.Colors) == 0 {
		if e.ClusterNote != "" {
			fmt.Fprintf(b, "The cluster was not read: %s.\n\n", inline(e.ClusterNote))
		}
		return
	}
	b.WriteString("| color | in the cluster | image | ready / desired | rollout | age | HPA current / desired (min–max) |\n|---|---|---|---|---|---|---|\n")
	for _, c := range e.Colors {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", c.Color, role(c, e.Live), cell(strings.Join(c.Images, ", ")), replicas(c), cell(c.Rollout),
			age(c, e.ReadAt), autoscaler(c))
	}
	b.WriteString("\n")
}

// age is how long the color has run its current ReplicaSet when the
// cluster was read, as kubectl shows an age.
func age(c status.Color, readAt time.Time) string {
	if c.ReplicaSet == nil || readAt.IsZero() {
		return "–"
	}
	return duration.HumanDuration(readAt.Sub(c.ReplicaSet.Created))
}

func autoscaler(c status.Color) string {
	h := c.Autoscaler
	if h == nil {
		return "–"
	}
	return fmt.Sprintf("%d / %d (%d–%d)", h.Current, h.Desired, h.Min, h.Max)
}

func role(c status.Color, live string) string {
	switch {
	case !c.Found:
		return "no Deployment " + cell(c.Deployment)
	case c.Color == live:
		return "**live**"
	}
	return "idle"
}

func replicas(c status.Color) string {
	if !c.Found {
		return "–"
	}
	return fmt.Sprintf("%d / %d", c.Ready, c.Desired)
}

// writeGates writes the gates that ran and those that did not.
func (e *Evidence) writeGates(b *strings.Builder) {
	if len(e.Gates) > 0 {
		b.WriteString("| gate | color | outcome | measured | needed |\n|---|---|---|---|---|\n")
		for _, g := range e.Gates {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", g.Gate, g.Color, outcome(g.Outcome), cell(g.Measured), cell(g.Threshold))
		}
		b.WriteString("\n")
	}
	if len(e.NotRun) > 0 {
		fmt.Fprintf(b, "Did not run: %s.\n\n", inline(strings.Join(e.NotRun, ", ")))
	}
}

func outcome(o string) string {
	if o == gate.Passed || o == gate.Skipped {
		return o
	}
	return "**" + o + "**"
}

// cell makes s one table cell: no line breaks, pipes escaped, HTML
// tags kept as text.
func cell(s string) string {
	s = inline(s)
	if s == "" {
		return "–"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// inline makes s one line of text that Markdown shows as it is.
func inline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
}

// fence keeps a diff inside its code block: a line of backticks in it
// would end the block early.
func fence(d string) string {
	if len(d) > maxDiff {
		d = d[:maxDiff] + "\n… (diff cut)\n"
	}
	return strings.ReplaceAll(d, "```", "` ` `")
}
