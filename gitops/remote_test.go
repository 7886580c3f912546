package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/http"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenRepoCredentials(t *testing.T) {
	tests := map[string]struct {
		url      string
		env      map[string]string
		wantURL  string
		user     string
		password string
	}{
		"BGRENDER_GIT_TOKEN first": {"https://git.example/a/b.git", map[string]string{"GITHUB_TOKEN": "gh", "BGRENDER_GIT_TOKEN": "bg"}, "https://git.example/a/b.git", "x-access-token", "bg"},
		"GITLAB_TOKEN as oauth2":   {"https://gitlab.example/a/b.git", map[string]string{"GITLAB_TOKEN": "gl"}, "https://gitlab.example/a/b.git", "oauth2", "gl"},
		"GITEA_TOKEN":              {"https://gitea.example/a/b.git", map[string]string{"GITEA_TOKEN": "gt"}, "https://gitea.example/a/b.git", "x-access-token", "gt"},
		"username override":        {"https://git.example/a/b", map[string]string{"GITHUB_TOKEN": "gh", "BGRENDER_GIT_USERNAME": "bot"}, "https://git.example/a/b", "bot", "gh"},
		"password in the URL":      {"https://me:pw123@git.example/a/b", map[string]string{"GITHUB_TOKEN": "gh"}, "https://git.example/a/b", "me", "pw123"},
		"anonymous":                {"http://127.0.0.1:3000/a/b", nil, "http://127.0.0.1:3000/a/b", "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := OpenRepo(tc.url, RepoOptions{Getenv: env(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != tc.wantURL {
				t.Errorf("URL = %s, want %s", r.URL, tc.wantURL)
			}
			if tc.password == "" {
				if r.Auth != nil {
					t.Errorf("auth = %v, want none", r.Auth)
				}
				return
			}
			b, ok := r.Auth.(*http.BasicAuth)
			if !ok || b.Username != tc.user || b.Password != tc.password {
				t.Errorf("auth = %#v", r.Auth)
			}
			if strings.Contains(r.Auth.String(), tc.password) {
				t.Errorf("auth String() shows the password")
			}
		})
	}
}

func TestOpenRepoLocalPath(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRepo(dir, RepoOptions{Getenv: env(nil)})
	if err != nil || r.URL != dir || r.Auth != nil {
		t.Fatalf("local path: %+v, %v", r, err)
	}
	r, err = OpenRepo("file://"+dir, RepoOptions{Getenv: env(nil)})
	if err != nil || r.URL != "file://"+dir {
		t.Fatalf("file URL: %+v, %v", r, err)
	}
}

// TestOpenRepoSSHVerifiesHostKeys proves ssh URLs need known_hosts: host
// key verification cannot be turned off.
func TestOpenRepoSSHVerifiesHostKeys(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_KNOWN_HOSTS", "")
	_, err := OpenRepo("git@git.example:a/b.git", RepoOptions{Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Fatalf("no known_hosts: %v", err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte("git.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o644)
	_, err = OpenRepo("ssh://git@git.example/a/b.git", RepoOptions{Getenv: env(nil), KnownHosts: []string{kh}})
	if err == nil || !strings.Contains(err.Error(), "SSH agent") {
		t.Fatalf("no key and no agent: %v", err)
	}
}

// TestOpenRepoRefusesQueryStrings: a token in a query string cannot work
// with Git's HTTP protocol, and would be printed: refused without echoing.
func TestOpenRepoRefusesQueryStrings(t *testing.T) {
	_, err := OpenRepo("https://u:pw123@git.example/a/b.git?token=SEKRITQ", RepoOptions{Getenv: env(nil)})
	if err == nil || strings.Contains(err.Error(), "SEKRITQ") || strings.Contains(err.Error(), "pw123") || !strings.Contains(err.Error(), "query string") {
		t.Fatalf("err = %v", err)
	}
}
