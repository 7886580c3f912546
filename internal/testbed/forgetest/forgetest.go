// Package forgetest serves fake GitHub and GitLab REST APIs for tests of
// pull requests, on httptest servers that answer as the documented APIs do
// for the calls bgrender makes: list, create and get pull requests
// (GitHub: /repos/{owner}/{repo}/pulls) or merge requests (GitLab:
// /projects/{id}/merge_requests), with token checks, and edit their title
// and body (GitHub: PATCH .../pulls/{number}; GitLab: PUT
// .../merge_requests/{iid}, the body being its description), and take
// commit statuses (GitHub: POST /repos/{owner}/{repo}/statuses/{sha};
// GitLab: POST /projects/{id}/statuses/{sha}), which Statuses returns. Lists are paginated
// as documented: page and per_page, a Link header (both) and GitLab's
// X-Page, X-Per-Page, X-Total, X-Total-Pages, X-Next-Page and X-Prev-Page
// headers. A test changes a pull request's state (merge, close) with
// SetState.
package forgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// Pull is one pull (merge) request the fake holds.
type Pull struct {
	Number      int
	Head, Base  string
	Title, Body string
	State       string // open, merged, closed
}

// Status is a commit status the fake took, with its state as the forge
// names it (GitLab: failed, where GitHub says failure).
type Status struct {
	SHA, Context, State, Description, TargetURL string
}

// Fake is a fake forge API.
type Fake struct {
	URL string // the API base URL to give the client

	kind  string // github or gitlab
	token string
	owner string // github: the repository owner; gitlab: unused
	repo  string // github: owner/repo; gitlab: the project path

	mu       sync.Mutex
	pulls    []*Pull
	statuses []Status
	// Requests counts the requests answered, by "METHOD path".
	requests map[string]int
	// OnGet runs before a pull request is read (to merge it, say).
	OnGet func(p *Pull)
}

// GitHub serves GitHub's REST API for owner/repo; requests must carry
// "Authorization: Bearer token".
func GitHub(t testing.TB, owner, repo, token string) *Fake {
	f := &Fake{kind: "github", token: token, owner: owner, repo: owner + "/" + repo, requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.github))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// GitLab serves GitLab's REST API v4 for the project path (such as
// group/sub/project); requests must carry "PRIVATE-TOKEN: token". URL
// ends in /api/v4.
func GitLab(t testing.TB, project, token string) *Fake {
	f := &Fake{kind: "gitlab", token: token, repo: project, requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.gitlab))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/api/v4"
	return f
}

// Pulls returns a copy of the pull requests.
func (f *Fake) Pulls() []Pull {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Pull
	for _, p := range f.pulls {
		out = append(out, *p)
	}
	return out
}

// Statuses returns the commit statuses taken, in order.
func (f *Fake) Statuses() []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses...)
}

// status takes a commit status when its state is one of valid.
func (f *Fake) status(w http.ResponseWriter, sha string, st Status, valid ...string) {
	ok := false
	for _, v := range valid {
		ok = ok || st.State == v
	}
	if !ok || sha == "" || st.Context == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	st.SHA = sha
	f.statuses = append(f.statuses, st)
	writeJSON(w, http.StatusCreated, map[string]any{"id": len(f.statuses), "state": st.State, "context": st.Context, "description": st.Description})
}

// SetState sets the state of pull request number: open, merged or closed.
func (f *Fake) SetState(number int, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pulls {
		if p.Number == number {
			p.State = state
		}
	}
}

// Requests returns how many requests of "METHOD path" were answered.
func (f *Fake) Requests(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[key]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}

// paginate answers one page of list, from the query's page and per_page
// (perPage by default, at most 100), with a Link header for the first,
// previous, next and last pages and, for GitLab, the X-* headers.
func (f *Fake) paginate(w http.ResponseWriter, r *http.Request, list []map[string]any, perPage int) {
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	last := max(1, (len(list)+perPage-1)/perPage)
	from := min(len(list), (page-1)*perPage)
	to := min(len(list), from+perPage)
	pageURL := func(n int) string {
		u := *r.URL
		v := u.Query()
		v.Set("page", strconv.Itoa(n))
		v.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = v.Encode()
		return "http://" + r.Host + u.RequestURI()
	}
	// GitHub names first and prev only after the first page, next and
	// last only before the last one; GitLab always names first and last.
	var links []string
	link := func(n int, rel string) { links = append(links, fmt.Sprintf("<%s>; rel=%q", pageURL(n), rel)) }
	if page > 1 {
		link(min(page-1, last), "prev")
	}
	if page < last {
		link(page+1, "next")
	}
	if f.kind == "gitlab" || page > 1 {
		link(1, "first")
	}
	if f.kind == "gitlab" || page < last {
		link(last, "last")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	if f.kind == "gitlab" {
		h := w.Header()
		h.Set("X-Page", strconv.Itoa(page))
		h.Set("X-Per-Page", strconv.Itoa(perPage))
		h.Set("X-Total", strconv.Itoa(len(list)))
		h.Set("X-Total-Pages", strconv.Itoa(last))
		h.Set("X-Next-Page", "")
		if page < last {
			h.Set("X-Next-Page", strconv.Itoa(page+1))
		}
		h.Set("X-Prev-Page", "")
		if page > 1 {
			h.Set("X-Prev-Page", strconv.Itoa(min(page-1, last)))
		}
	}
	writeJSON(w, http.StatusOK, list[from:to])
}

func (f *Fake) find(head, base string) *Pull {
	for _, p := range f.pulls {
		if p.State == "open" && p.Head == head && (base == "" || p.Base == base) {
			return p
		}
	}
	return nil
}

func (f *Fake) get(n int) *Pull {
	for _, p := range f.pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

// --- GitHub -------------------------------------------------------------

func (f *Fake) githubJSON(p *Pull) map[string]any {
	state, merged := p.State, p.State == "merged"
	var mergedAt any
	if merged {
		state, mergedAt = "closed", "2026-01-01T00:00:00Z"
	}
	return map[string]any{
		"number": p.Number, "state": state, "merged": merged, "merged_at": mergedAt,
		"title": p.Title, "body": p.Body,
		"html_url": fmt.Sprintf("https://github.example/%s/pull/%d", f.repo, p.Number),
		"head":     map[string]any{"ref": p.Head, "label": f.owner + ":" + p.Head},
		"base":     map[string]any{"ref": p.Base},
	}
}

func (f *Fake) github(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Method+" "+r.URL.Path]++
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	if sha, ok := strings.CutPrefix(r.URL.Path, "/repos/"+f.repo+"/statuses/"); ok && r.Method == http.MethodPost {
		var in struct {
			State       string `json:"state"`
			TargetURL   string `json:"target_url"`
			Description string `json:"description"`
			Context     string `json:"context"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || utf8.RuneCountInString(in.Description) > 140 {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
			return
		}
		f.status(w, sha, Status{Context: in.Context, State: in.State, Description: in.Description, TargetURL: in.TargetURL}, "error", "failure", "pending", "success")
		return
	}
	prefix := "/repos/" + f.repo + "/pulls"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	switch {
	case rest == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		head := q.Get("head") // owner:branch
		list := []map[string]any{}
		for _, p := range f.pulls {
			if q.Get("state") == "open" && p.State != "open" {
				continue
			}
			if head != "" && f.owner+":"+p.Head != head {
				continue
			}
			if b := q.Get("base"); b != "" && p.Base != b {
				continue
			}
			list = append(list, f.githubJSON(p))
		}
		f.paginate(w, r, list, 30)
	case rest == "" && r.Method == http.MethodPost:
		var in struct{ Head, Base, Title, Body string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Head == "" || in.Base == "" || in.Title == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
			return
		}
		if f.find(in.Head, in.Base) != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
				"errors": []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + f.owner + ":" + in.Head + "."}}})
			return
		}
		p := &Pull{Number: len(f.pulls) + 1, Head: in.Head, Base: in.Base, Title: in.Title, Body: in.Body, State: "open"}
		f.pulls = append(f.pulls, p)
		writeJSON(w, http.StatusCreated, f.githubJSON(p))
	case r.Method == http.MethodGet:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		p := f.get(n)
		if err != nil || p == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		if f.OnGet != nil {
			f.OnGet(p)
		}
		writeJSON(w, http.StatusOK, f.githubJSON(p))
	case r.Method == http.MethodPatch:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		p := f.get(n)
		if err != nil || p == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		var in struct{ Title, Body *string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
		edit(p, in.Title, in.Body)
		writeJSON(w, http.StatusOK, f.githubJSON(p))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

// edit sets the title and body of p that the request names.
func edit(p *Pull, title, body *string) {
	if title != nil && *title != "" {
		p.Title = *title
	}
	if body != nil {
		p.Body = *body
	}
}

// --- GitLab -------------------------------------------------------------

func (f *Fake) gitlabJSON(p *Pull) map[string]any {
	state := p.State
	if state == "open" {
		state = "opened"
	}
	return map[string]any{
		"id": 1000 + p.Number, "iid": p.Number, "state": state, "title": p.Title, "description": p.Body,
		"source_branch": p.Head, "target_branch": p.Base,
		"web_url": fmt.Sprintf("https://gitlab.example/%s/-/merge_requests/%d", f.repo, p.Number),
	}
}

func (f *Fake) gitlab(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.EscapedPath()
	f.requests[r.Method+" "+path]++
	if r.Header.Get("PRIVATE-TOKEN") != f.token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	// The project id is one path segment: the URL-encoded path, however
	// the client escapes it (acme%2Fgitops, or with %2E for dots).
	id, rest, _ := strings.Cut(strings.TrimPrefix(path, "/api/v4/projects/"), "/")
	project, err := url.PathUnescape(id)
	if !strings.HasPrefix(path, "/api/v4/projects/") || err != nil || project != f.repo {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	if sha, ok := strings.CutPrefix(rest, "statuses/"); ok && r.Method == http.MethodPost {
		var in struct {
			State       string `json:"state"`
			Name        string `json:"name"`
			TargetURL   string `json:"target_url"`
			Description string `json:"description"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
			return
		}
		f.status(w, sha, Status{Context: in.Name, State: in.State, Description: in.Description, TargetURL: in.TargetURL}, "pending", "running", "success", "failed", "canceled")
		return
	}
	rest, ok := strings.CutPrefix(rest, "merge_requests")
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	switch {
	case rest == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		list := []map[string]any{}
		for _, p := range f.pulls {
			if s := q.Get("state"); s != "" && f.gitlabJSON(p)["state"] != s {
				continue
			}
			if b := q.Get("source_branch"); b != "" && p.Head != b {
				continue
			}
			if b := q.Get("target_branch"); b != "" && p.Base != b {
				continue
			}
			list = append(list, f.gitlabJSON(p))
		}
		f.paginate(w, r, list, 20)
	case rest == "" && r.Method == http.MethodPost:
		var in struct {
			SourceBranch string `json:"source_branch"`
			TargetBranch string `json:"target_branch"`
			Title        string `json:"title"`
			Description  string `json:"description"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SourceBranch == "" || in.TargetBranch == "" || in.Title == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "source_branch, target_branch, title are missing"})
			return
		}
		if p := f.find(in.SourceBranch, in.TargetBranch); p != nil {
			writeJSON(w, http.StatusConflict, map[string]any{"message": []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", p.Number)}})
			return
		}
		p := &Pull{Number: len(f.pulls) + 1, Head: in.SourceBranch, Base: in.TargetBranch, Title: in.Title, Body: in.Description, State: "open"}
		f.pulls = append(f.pulls, p)
		writeJSON(w, http.StatusCreated, f.gitlabJSON(p))
	case r.Method == http.MethodGet:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		p := f.get(n)
		if err != nil || p == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return
		}
		if f.OnGet != nil {
			f.OnGet(p)
		}
		writeJSON(w, http.StatusOK, f.gitlabJSON(p))
	case r.Method == http.MethodPut:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		p := f.get(n)
		if err != nil || p == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
			return
		}
		var in struct {
			Title       *string `json:"title"`
			Description *string `json:"description"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
			return
		}
		edit(p, in.Title, in.Description)
		writeJSON(w, http.StatusOK, f.gitlabJSON(p))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
	}
}
