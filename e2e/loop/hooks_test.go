package loop_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/notify"
)

// hookSink is a real webhook receiver for --notify: it keeps the events
// posted to it, in order, by path.
type hookSink struct {
	*httptest.Server
	mu     sync.Mutex
	events map[string][]notify.Event
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{events: map[string][]notify.Event{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.events[r.URL.Path] = append(h.events[r.URL.Path], ev)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookSink) got(path string) []notify.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Event(nil), h.events[path]...)
}

// checkPromotionEvidence reads the promotion's pull request back through
// Gitea's API: its body lists both colors and the gates' readings, its
// head's status bgrender/my-application went pending → success once the
// cluster served green, and the receiver got the promote event.
func checkPromotionEvidence(t *testing.T, gitea *giteatest.Server, ns string, events []notify.Event) {
	t.Helper()
	var pulls []struct {
		Body string `json:"body"`
		URL  string `json:"html_url"`
		Head struct {
			Sha string `json:"sha"`
		} `json:"head"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/pulls?state=all", nil, &pulls)
	if len(pulls) == 0 {
		t.Fatal("no pull request")
	}
	pr := pulls[0] // the newest first
	// Both colors' ReplicaSets, which the cluster's controllers made,
	// give their age; the app has no HPA.
	if !regexp.MustCompile(`\| green \| idle \| myapp:v2 \| 3 / 3 \| complete \| [0-9]+[smhdy][0-9smhdy]* \| – \|`).MatchString(pr.Body) {
		t.Errorf("the pull request's body lacks green's age:\n%s", pr.Body)
	}
	for _, want := range []string{"Selector blue → green", "| blue | **live** | ", "| green | idle | myapp:v2 | 3 / 3 | complete |",
		"| rollout | green | passed | Deployment " + app + "-green: ", "| capacity | green | passed | 3 ready pods of " + app + "-green |"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("the pull request's body lacks %q:\n%s", want, pr.Body)
		}
	}
	var statuses []struct {
		State       string `json:"status"`
		Context     string `json:"context"`
		Description string `json:"description"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/commits/"+pr.Head.Sha+"/statuses?sort=oldest", nil, &statuses)
	if len(statuses) != 2 || statuses[0].State != "pending" || statuses[1].State != "success" || statuses[1].Context != "bgrender/"+app ||
		!strings.HasPrefix(statuses[1].Description, "live: Service "+app+" serves green, 3 ready endpoints") {
		t.Errorf("the statuses of the pull request's head: %+v", statuses)
	}
	if len(events) != 1 || events[0].Event != "promote" || events[0].PullRequest != pr.URL || events[0].Weight == nil || *events[0].Weight != 100 || len(events[0].Gates) < 2 {
		t.Errorf("the promote events: %+v", events)
	}
	t.Logf("the promotion's pull request:\n%s", pr.Body)
}

// checkRollbackBreach reads guard's rollback commit (the tip of main)
// back through Gitea's API: its message carries the readings of the
// breach event, the last at or above the maximum, as a table's rows and a
// Mermaid chart's line.
func checkRollbackBreach(t *testing.T, gitea *giteatest.Server, ev notify.Event, maxPercent float64) {
	t.Helper()
	b := ev.Breach
	if b == nil || len(b.Readings) == 0 || !b.Readings[len(b.Readings)-1].Failed || b.MaxPercent != maxPercent {
		t.Fatalf("the breach event's readings: %+v", b)
	}
	var commits []struct {
		Commit struct {
			Message string `json:"message"`
		} `json:"commit"`
	}
	gitea.API(t, http.MethodGet, "/repos/"+gitea.User+"/gitops/commits?sha=main&limit=1", nil, &commits)
	if len(commits) != 1 {
		t.Fatal("no commit on main")
	}
	msg := commits[0].Commit.Message
	layout := "15:04:05"
	for i := 1; i < len(b.Readings); i++ {
		if b.Readings[i].At.Truncate(time.Second).Equal(b.Readings[i-1].At.Truncate(time.Second)) {
			layout = "15:04:05.000"
		}
	}
	var line []string
	want := []string{"rollback " + app + ": switch traffic back from green to blue: guard: error rate ", "**Guard's breach**: " + b.Color + " breached at ",
		"| time (UTC) | error rate | maximum | rate window |", "```mermaid\nxychart-beta\n"}
	for _, m := range b.Readings {
		v := gate.FormatPercent(m.Percent) + "%"
		switch {
		case m.NoData:
			v = "no data"
		case m.Failed:
			v = "**" + v + "**"
		}
		if !m.NoData {
			line = append(line, gate.FormatPercent(m.Percent))
		}
		want = append(want, "| "+m.At.UTC().Format(layout)+" | "+v+" | "+gate.FormatPercent(maxPercent)+"% | 5s |")
	}
	want = append(want, "    line ["+strings.Join(line, ", ")+"]\n")
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("guard's rollback commit lacks %q:\n%s", w, msg)
		}
	}
	t.Logf("guard's rollback commit:\n%s", msg)
}
