package loop_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
