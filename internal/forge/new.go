package forge

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configure a Client.
type Options struct {
	// Kind is gitea, github or gitlab; empty: told from the host name.
	Kind string
	// RepoURL is the repository's https (or http) URL, without credentials.
	RepoURL string
	// APIURL overrides the API base URL (such as https://api.github.com,
	// https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1).
	APIURL string
	// Token authenticates to the API.
	Token string
	// HTTP is the client to use (a client with a 30s timeout when nil).
	HTTP *http.Client
}

// New returns the pull-request client of the repository's forge.
func New(o Options) (Client, error) {
	u, err := url.Parse(o.RepoURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("pull requests need an http(s) repository URL, not %q", o.RepoURL)
	}
	kind := strings.ToLower(o.Kind)
	if kind == "" {
		host := strings.ToLower(u.Hostname())
		switch {
		case strings.Contains(host, "github"):
			kind = "github"
		case strings.Contains(host, "gitlab"):
			kind = "gitlab"
		case strings.Contains(host, "gitea"), strings.Contains(host, "codeberg"), strings.Contains(host, "forgejo"):
			kind = "gitea"
		default:
			return nil, ErrUnknownForge
		}
	}
	repoPath := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	api := func(def string) string {
		if o.APIURL != "" {
			return strings.TrimRight(o.APIURL, "/")
		}
		return def
	}
	origin := u.Scheme + "://" + u.Host
	switch kind {
	case "gitea":
		owner, repo, prefix, err := ownerRepo(repoPath)
		if err != nil {
			return nil, err
		}
		return newGitea(api(origin+prefix+"/api/v1"), owner, repo, o.Token, hc), nil
	case "github":
		owner, repo, _, err := ownerRepo(repoPath)
		if err != nil {
			return nil, err
		}
		def := origin + "/api/v3"
		if strings.EqualFold(u.Hostname(), "github.com") {
			def = "https://api.github.com"
		}
		return newGitHub(api(def), owner, repo, o.Token, hc)
	case "gitlab":
		if repoPath == "" {
			return nil, fmt.Errorf("no project path in %s", o.RepoURL)
		}
		return newGitLab(api(origin+"/api/v4"), repoPath, o.Token, hc)
	}
	return nil, fmt.Errorf("unknown forge %q: expected gitea, github or gitlab", o.Kind)
}

// ownerRepo splits [prefix/]owner/repo.
func ownerRepo(p string) (owner, repo, prefix string, err error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return "", "", "", fmt.Errorf("repository path %q is not owner/repo", p)
	}
	prefix = strings.Join(parts[:len(parts)-2], "/")
	if prefix != "" {
		prefix = "/" + prefix
	}
	return parts[len(parts)-2], parts[len(parts)-1], prefix, nil
}

// StatusError is an API answer other than 2xx.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string // the error message of the answer
	// Err is the SDK's error, for errors.As; it is not part of Error().
	Err error
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Code, http.StatusText(e.Code), e.Body)
}

// Unwrap returns the SDK's error.
func (e *StatusError) Unwrap() error { return e.Err }

// apiError turns an SDK error into a *StatusError when the API answered
// with a status other than 2xx (body is the SDK's message of the answer),
// or names the request when a 2xx answer could not be decoded. The URL
// is shown without user info; tokens travel in headers only.
func apiError(err error, resp *http.Response, body func() string) error {
	if err == nil || resp == nil || resp.Request == nil || resp.Request.URL == nil {
		return err
	}
	method, u := resp.Request.Method, resp.Request.URL.Redacted()
	if resp.StatusCode/100 == 2 {
		return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
	}
	msg := strings.TrimSpace(body())
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &StatusError{Method: method, URL: u, Code: resp.StatusCode, Body: msg, Err: err}
}
