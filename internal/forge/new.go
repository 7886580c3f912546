package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
		return &gitea{api: api(origin + prefix + "/api/v1"), owner: owner, repo: repo, c: client{hc, "token " + o.Token, "Authorization", nil}}, nil
	case "github":
		owner, repo, _, err := ownerRepo(repoPath)
		if err != nil {
			return nil, err
		}
		def := origin + "/api/v3"
		if strings.EqualFold(u.Hostname(), "github.com") {
			def = "https://api.github.com"
		}
		return &github{api: api(def), owner: owner, repo: repo, c: client{hc, "Bearer " + o.Token, "Authorization", map[string]string{
			"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}}}, nil
	case "gitlab":
		if repoPath == "" {
			return nil, fmt.Errorf("no project path in %s", o.RepoURL)
		}
		return &gitlab{api: api(origin + "/api/v4"), project: url.PathEscape(repoPath), c: client{hc, o.Token, "PRIVATE-TOKEN", nil}}, nil
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

// client sends JSON requests with a token header.
type client struct {
	hc     *http.Client
	auth   string // header value
	header string // header name
	extra  map[string]string
}

// StatusError is an API answer other than 2xx.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Code, http.StatusText(e.Code), e.Body)
}

func (c client) do(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.extra {
		req.Header.Set(k, v)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" && c.auth != "token " && c.auth != "Bearer " {
		req.Header.Set(c.header, c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &StatusError{Method: method, URL: u, Code: resp.StatusCode, Body: msg}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}
