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

// message renders the commit message: the template's text, then a blank
// line and the trailers.
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
