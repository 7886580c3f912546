package gitops

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/bgrender/bgrender/templates"
)

// MessageData is what a commit message template sees.
type MessageData struct {
	Action, App, Path, Branch string
	From, To, Image           string
	Replicas                  string
	Summary                   string
}

// DefaultMessage is the built-in commit message template
// (templates/commit.tmpl).
var DefaultMessage = template.Must(ParseMessageTemplate("commit", templates.Commit))

// ParseMessageTemplate parses a commit message template.
func ParseMessageTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// Trailers returns the Bgrender-* trailers of a change, in a fixed order.
func (c *Change) Trailers() [][2]string {
	t := [][2]string{{"Bgrender-App", c.App}, {"Bgrender-Action", c.Action}}
	if c.From != "" {
		t = append(t, [2]string{"Bgrender-From", c.From})
	}
	if c.To != "" {
		t = append(t, [2]string{"Bgrender-To", c.To})
	}
	if c.Image != "" {
		t = append(t, [2]string{"Bgrender-Image", c.Image})
	}
	return t
}

// message renders the commit message: the template's text, the change's
// details, then a blank line and the trailers.
func message(tmpl *template.Template, d MessageData, c *Change) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return "", fmt.Errorf("commit message template: %w", err)
	}
	body := strings.TrimRight(b.String(), "\n \t")
	if strings.TrimSpace(body) == "" {
		return "", fmt.Errorf("commit message template %q gave an empty message", tmpl.Name())
	}
	var out strings.Builder
	out.WriteString(body)
	out.WriteString("\n\n")
	if d := strings.TrimSpace(c.Details); d != "" {
		out.WriteString(d)
		out.WriteString("\n\n")
	}
	for _, kv := range c.Trailers() {
		fmt.Fprintf(&out, "%s: %s\n", kv[0], oneLine(kv[1]))
	}
	return out.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ParseTrailers reads the "Key: value" lines of the last paragraph of a
// commit message.
func ParseTrailers(msg string) map[string]string {
	msg = strings.TrimRight(msg, "\n")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	}
	out := map[string]string{}
	for _, line := range strings.Split(msg, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.Contains(k, " ") {
			out[k] = v
		}
	}
	return out
}

// Group is the changes of several folders as one, for the commit message,
// its trailers and a pull-request branch: the apps that change (those
// already in their wanted state are left out, unless all are), listed
// "web, api" (AppsOf reads them back from the trailer), and the action,
// colors and image where every app shares them.
func Group(changes []*Change) *Change {
	var moving []*Change
	for _, c := range changes {
		if !c.Done {
			moving = append(moving, c)
		}
	}
	g := &Change{Done: len(moving) == 0}
	if g.Done {
		moving = changes
	}
	var apps, summaries, reasons []string
	for _, c := range moving {
		apps = append(apps, c.App)
		summaries = append(summaries, c.App+": "+c.Summary)
		reasons = append(reasons, c.Reason)
	}
	g.App, g.Summary, g.Reason = strings.Join(apps, ", "), strings.Join(summaries, "; "), strings.Join(reasons, "; ")
	if len(moving) == 1 {
		g.Summary, g.Details = moving[0].Summary, moving[0].Details
	}
	g.Action = shared(moving, func(c *Change) string { return c.Action })
	g.From = shared(moving, func(c *Change) string { return c.From })
	g.To = shared(moving, func(c *Change) string { return c.To })
	g.Image = shared(moving, func(c *Change) string { return c.Image })
	g.Replicas = shared(moving, func(c *Change) string { return c.Replicas })
	return g
}

// shared is the value every change has for a field, "" when they differ.
func shared(changes []*Change, field func(*Change) string) string {
	v := field(changes[0])
	for _, c := range changes[1:] {
		if field(c) != v {
			return ""
		}
	}
	return v
}

// AppsOf reads the apps of a Bgrender-App trailer: one, or a group's
// "web, api".
func AppsOf(trailers map[string]string) []string {
	var out []string
	for _, a := range strings.Split(trailers["Bgrender-App"], ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
