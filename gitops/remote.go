package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/plumbing/transport/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// TokenEnv lists the environment variables that may hold an HTTPS token,
// in the order they are tried.
var TokenEnv = []string{"BGRENDER_GIT_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN"}

// RepoOptions says how to reach a repository.
type RepoOptions struct {
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// SSHKey is a private key file for ssh URLs; empty uses the SSH agent.
	SSHKey string
	// KnownHosts files verify ssh host keys (default: SSH_KNOWN_HOSTS or
	// ~/.ssh/known_hosts).
	KnownHosts []string
	// InsecureIgnoreHostKey turns host key verification off: anyone who
	// can intercept the connection can then read and change the
	// repository. Only the user can ask for it (--insecure-ignore-host-key).
	InsecureIgnoreHostKey bool
}

// Repo is a remote repository: its URL without credentials, and how to
// authenticate to it.
type Repo struct {
	// URL is what errors and output show: never with credentials.
	URL string
	// Auth is nil for anonymous access and local repositories.
	Auth transport.AuthMethod
	// Token is the HTTPS token or password in use, if any; forge clients
	// reuse it. It is redacted from every error.
	Token string

	secrets []string
	source  string // where the credentials came from, for error messages
}

// OpenRepo parses a repository URL (https, http, ssh, scp-like
// user@host:path, git://, file://) or a local path and picks its
// credentials: for http(s), a password in the URL or a token from the
// first set variable of TokenEnv (user name BGRENDER_GIT_USERNAME, else
// oauth2 for GITLAB_TOKEN and x-access-token otherwise); for ssh, the key
// file or the agent, with known_hosts verification.
func OpenRepo(raw string, o RepoOptions) (*Repo, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if raw == "" {
		return nil, errors.New("no repository URL")
	}
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "http" || u.Scheme == "https") && (u.RawQuery != "" || u.ForceQuery) {
		// Git's HTTP protocol appends its own path and query to the URL,
		// so a query cannot carry a token; and the URL is printed.
		return nil, errors.New("repository URL: a query string (?...) is not part of a Git URL; give a token in BGRENDER_GIT_TOKEN instead")
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("repository URL: %w", redactURLError(err, raw))
	}
	r := &Repo{}
	switch ep.Protocol {
	case "http", "https":
		user, pass := ep.User, ep.Password
		if pass != "" {
			r.source = "the password in the URL"
		}
		if pass == "" {
			for _, name := range TokenEnv {
				if v := getenv(name); v != "" {
					pass, r.source = v, "the token in "+name
					if user == "" {
						user = "x-access-token"
						if name == "GITLAB_TOKEN" {
							user = "oauth2"
						}
					}
					break
				}
			}
		}
		if u := getenv("BGRENDER_GIT_USERNAME"); u != "" && ep.User == "" {
			user = u
		}
		if pass != "" {
			r.Auth = &http.BasicAuth{Username: user, Password: pass}
			r.Token = pass
			r.secrets = append(r.secrets, pass)
		}
		ep.User, ep.Password = "", ""
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		auth, err := sshAuth(user, o)
		if err != nil {
			return nil, err
		}
		r.Auth = auth
		ep.Password = ""
	case "file":
		if abs, err := filepath.Abs(ep.Path); err == nil {
			ep.Path = abs
		}
	}
	r.URL = ep.String()
	if ep.Protocol == "file" && !strings.HasPrefix(raw, "file://") {
		r.URL = ep.Path
	}
	return r, nil
}

func sshAuth(user string, o RepoOptions) (transport.AuthMethod, error) {
	var hostKeys gossh.HostKeyCallback
	if o.InsecureIgnoreHostKey {
		hostKeys = gossh.InsecureIgnoreHostKey()
	} else {
		var err error
		if hostKeys, err = ssh.NewKnownHostsCallback(o.KnownHosts...); err != nil {
			return nil, fmt.Errorf("ssh known_hosts (host keys are verified; name a file with --known-hosts, or turn verification off with --insecure-ignore-host-key): %w", err)
		}
	}
	if o.SSHKey != "" {
		keys, err := ssh.NewPublicKeysFromFile(user, o.SSHKey, os.Getenv("BGRENDER_SSH_KEY_PASSPHRASE"))
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", o.SSHKey, err)
		}
		keys.HostKeyCallback = hostKeys
		return keys, nil
	}
	agent, err := ssh.NewSSHAgentAuth(user)
	if err != nil {
		return nil, fmt.Errorf("ssh: no --ssh-key and no usable SSH agent: %w", err)
	}
	agent.HostKeyCallback = hostKeys
	return agent, nil
}

// redact returns err with every secret of the repo and every password in
// a URL replaced by "***". The result does not unwrap: nothing below it
// can leak a secret when printed.
func (r *Repo) redact(err error) error {
	if err == nil {
		return nil
	}
	auth := errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed)
	msg := redactText(err.Error(), r.secrets)
	if auth {
		msg = "authentication failed: the remote refused " + r.source
		if r.source == "" {
			msg = "authentication required: set BGRENDER_GIT_TOKEN (or " + strings.Join(TokenEnv[1:], ", ") + ")"
		}
	}
	return &redactedError{msg: msg, auth: auth}
}

func redactURLError(err error, raw string) error {
	var secrets []string
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	return &redactedError{msg: redactText(err.Error(), secrets)}
}

// redactText hides the secrets and the userinfo of URLs in s.
func redactText(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "***")
			s = strings.ReplaceAll(s, url.QueryEscape(secret), "***")
			s = strings.ReplaceAll(s, url.PathEscape(secret), "***")
		}
	}
	// scheme://user:password@host → scheme://user:***@host
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		end := strings.IndexAny(s, "/ \t\n\"'")
		if end < 0 {
			end = len(s)
		}
		host := s[:end]
		if at := strings.LastIndex(host, "@"); at >= 0 {
			if colon := strings.Index(host[:at], ":"); colon >= 0 {
				host = host[:colon] + ":***" + host[at:]
			}
		}
		b.WriteString(host)
		s = s[end:]
	}
}

type redactedError struct {
	msg  string
	auth bool
}

func (e *redactedError) Error() string { return e.msg }

// IsAuthError reports whether err is the remote refusing the credentials.
func IsAuthError(err error) bool {
	var r *redactedError
	return errors.As(err, &r) && r.auth
}
