package status

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes v (an *App or a []App wrapped by the caller) as
// indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// List is the JSON form of `bgrender status` without an app.
type List struct {
	Namespace string `json:"namespace"`
	Apps      []App  `json:"apps"`
}

// WriteApp writes one app's state as readable tables: the live color,
// each color's Deployment, and the endpoints behind each Service.
func WriteApp(w io.Writer, a *App) error {
	live := a.Live
	if live == "" {
		live = "none (the active Service selects no color)"
	}
	fmt.Fprintf(w, "app %s in namespace %s: live color %s (label %s)\n", a.Name, a.Namespace, live, a.ColorLabel)
	if len(a.Services) == 2 && a.Services[0].Found && a.Services[1].Found && a.Services[0].Selects != "" && a.Services[0].Selects == a.Services[1].Selects {
		fmt.Fprintf(w, "warning: the active and preview Services both select %s: the preview shows the live color\n", a.Services[0].Selects)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLOR\tDEPLOYMENT\tDESIRED\tUPDATED\tREADY\tAVAILABLE\tROLLOUT\tIMAGES")
	for _, c := range a.Colors {
		name := c.Color
		if c.Live {
			name += " (live)"
		}
		if !c.Found {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\tmissing\t-\n", name, c.Deployment)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", name, c.Deployment, c.Desired, c.Updated, c.Ready, c.Available, rollout(c), strings.Join(c.Images, ","))
	}
	writeAutoscalers(tw, a.Colors)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SERVICE\tROLE\tSELECTS\tREADY\tENDPOINTS")
	for _, s := range a.Services {
		if !s.Found {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\tmissing\n", s.Name, s.Role)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", s.Name, s.Role, orDash(s.Selects), s.ReadyEndpoints(), len(s.Endpoints), endpoints(s.Endpoints))
	}
	writeMigrations(tw, a)
	if err := tw.Flush(); err != nil {
		return err
	}
	if c := a.IdleCapacity(); c != nil {
		fmt.Fprintf(w, "\ncapacity: %s\n", c)
	}
	if a.Traffic != nil {
		fmt.Fprintf(w, "\ntraffic: %s\n", a.Traffic)
	}
	if g := a.Git; g != nil {
		where := g.Repo + " " + g.Path
		if g.Branch != "" {
			where += " (" + g.Branch + ")"
		}
		fmt.Fprintf(w, "\ngit %s: live color %s\n", where, g.Live)
		if g.Handover {
			fmt.Fprintf(w, "hand-over: a stepped promotion flipped the Services to %s while the canary Ingress sends it %d%%, and has not ended it: re-run promote --steps, or shift --weight 0\n", g.Live, *g.Weight)
		}
		if len(g.Drift) == 0 && len(g.Unchecked) == 0 {
			fmt.Fprintln(w, "in sync: the cluster runs what Git wants")
		}
		for _, d := range g.Drift {
			fmt.Fprintf(w, "drift: %s\n", d)
		}
		for _, u := range g.Unchecked {
			fmt.Fprintf(w, "not compared: %s\n", u)
		}
	}
	return nil
}

// writeAutoscalers writes the colors' HPAs, when any color has one.
func writeAutoscalers(tw io.Writer, colors []Color) {
	header := false
	for _, c := range colors {
		h := c.Autoscaler
		if h == nil {
			continue
		}
		if !header {
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "COLOR\tAUTOSCALER\tCURRENT\tDESIRED\tMIN\tMAX")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", c.Color, h.Name, h.Current, h.Desired, h.Min, h.Max)
	}
}

// WriteTable writes one line per app.
func WriteTable(w io.Writer, apps []App) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tLIVE\tBLUE\tGREEN\tACTIVE ENDPOINTS\tPREVIEW ENDPOINTS")
	for _, a := range apps {
		cols := []string{a.Name, orDash(a.Live)}
		for _, c := range a.Colors {
			if !c.Found {
				cols = append(cols, "missing")
				continue
			}
			cols = append(cols, fmt.Sprintf("%d/%d %s", c.Available, c.Desired, c.Rollout))
		}
		for _, s := range a.Services {
			if !s.Found {
				cols = append(cols, "missing")
				continue
			}
			cols = append(cols, fmt.Sprintf("%d/%d ready", s.ReadyEndpoints(), len(s.Endpoints)))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

func rollout(c Color) string {
	if c.Rollout == "complete" {
		return c.Rollout
	}
	return c.Rollout + ": " + c.Message
}

func endpoints(eps []Endpoint) string {
	if len(eps) == 0 {
		return "<none>"
	}
	var parts []string
	for _, e := range eps {
		s := e.Address
		if len(e.Ports) == 1 {
			s = net.JoinHostPort(e.Address, strconv.Itoa(int(e.Ports[0]))) // [fd00::1]:8080
		}
		switch {
		case e.Terminating:
			s += " (terminating)"
		case !e.Ready:
			s += " (not ready)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
