package giteatest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// Version is the Gitea release that hack/install-tools.sh builds.
const Version = "v1.26.0"

// EnvBin overrides where the gitea binary is found.
const EnvBin = "GITEA_BIN"

// Server is a running Gitea.
type Server struct {
	URL   string // http://127.0.0.1:PORT
	User  string // the admin user, owner of CreateRepo's repositories
	Token string // an API token of User with every scope

	dir string
	bin string
	cfg string
	cmd *exec.Cmd
}

// Start starts Gitea for the duration of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if testing.Short() {
			t.Skipf("giteatest: %v; skipped under -short", err)
		}
		t.Fatalf("giteatest: %v", err)
	}
	static, err := staticRoot()
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
	s := &Server{dir: t.TempDir(), bin: bin, User: "bgadmin"}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.cfg = filepath.Join(s.dir, "app.ini")
	if err := os.WriteFile(s.cfg, []byte(s.appIni(port, static)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.gitea(t, "migrate")
	password := randomHex(12)
	s.gitea(t, "admin", "user", "create", "--admin", "--username", s.User, "--password", password,
		"--email", s.User+"@example.com", "--must-change-password=false")
	out := s.gitea(t, "admin", "user", "generate-access-token", "--username", s.User,
		"--token-name", "bgrender-test", "--scopes", "all", "--raw")
	// The token is the last line; Gitea may log before it.
	lines := strings.Fields(out)
	if len(lines) == 0 || len(lines[len(lines)-1]) != 40 {
		t.Fatalf("giteatest: no access token in the output of generate-access-token (%d bytes)", len(out))
	}
	s.Token = lines[len(lines)-1]

	logFile, err := os.Create(filepath.Join(s.dir, "gitea-web.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "--config", s.cfg, "--work-path", s.dir, "web")
	s.cmd.Dir = s.dir
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("giteatest: start gitea: %v", err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }() //nolint:errcheck
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
			<-exited
		}
		logFile.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("giteatest: gitea exited during start-up:\n%s", tail(string(log), 3000))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("giteatest: gitea not ready after 60s:\n%s", tail(string(log), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

func (s *Server) appIni(port int, static string) string {
	return fmt.Sprintf(`APP_NAME = bgrender test
RUN_MODE = prod
RUN_USER = %[5]s
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
WORK_PATH = %[1]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = http://127.0.0.1:%[2]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
STATIC_ROOT_PATH = %[3]s
APP_DATA_PATH = %[1]s/data
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[4]s

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[mailer]
ENABLED = false

[cron]
ENABLED = false

[indexer]
REPO_INDEXER_ENABLED = false

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = %[1]s/log
`, s.dir, port, static, randomHex(16), currentUser())
}

// currentUser is the name Gitea compares RUN_USER with: the user running
// the tests.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	if os.Getuid() == 0 {
		return "root"
	}
	return os.Getenv("USER")
}

func (s *Server) env() []string {
	env := []string{"HOME=" + s.dir, "GITEA_WORK_DIR=" + s.dir, "USER=" + currentUser()}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// gitea runs a gitea subcommand to completion and returns its output.
func (s *Server) gitea(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"--config", s.cfg, "--work-path", s.dir}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = s.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("giteatest: gitea %s: %v\n%s%s", args[0], err, out, tail(stderr.String(), 3000))
	}
	return string(out)
}

// RepoURL is the clone URL of the admin's repository name.
func (s *Server) RepoURL(name string) string { return s.URL + "/" + s.User + "/" + name + ".git" }

// CreateRepo creates the admin's repository name with branch main holding
// the files of seed, pushed with the git CLI, and returns its clone URL.
func (s *Server) CreateRepo(t testing.TB, name, seed string) string {
	t.Helper()
	s.API(t, http.MethodPost, "/user/repos", map[string]any{"name": name, "default_branch": "main", "private": false}, nil)
	work := filepath.Join(t.TempDir(), "seed")
	run := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=seed", "GIT_AUTHOR_EMAIL=seed@example.com", "GIT_COMMITTER_NAME=seed", "GIT_COMMITTER_EMAIL=seed@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, strings.ReplaceAll(string(out), s.Token, "***"))
		}
	}
	run("", "init", "--quiet", "--initial-branch=main", work)
	run("", "-C", work, "--work-tree", seed, "add", "--all", ".")
	run(work, "commit", "--quiet", "-m", "seed")
	authURL := strings.Replace(s.RepoURL(name), "http://", "http://"+s.User+":"+s.Token+"@", 1)
	run(work, "push", "--quiet", authURL, "main")
	// Gitea handles a push in the background; until then the repository
	// counts as empty and its pull requests are not found.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var repo struct {
			Empty bool `json:"empty"`
		}
		s.API(t, http.MethodGet, "/repos/"+s.User+"/"+name, nil, &repo)
		if !repo.Empty {
			return s.RepoURL(name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("giteatest: repository %s still empty 30s after the push", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Merge merges pull request number of the admin's repository name. Gitea
// checks a new pull request's mergeability in the background and refuses
// a merge until then ("Please try again later"), so Merge retries for up
// to 30 seconds.
func (s *Server) Merge(t testing.TB, name string, number int) {
	t.Helper()
	path := fmt.Sprintf("/repos/%s/%s/pulls/%d/merge", s.User, name, number)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := s.call(http.MethodPost, path, map[string]any{"Do": "merge"})
		if err == nil && code/100 == 2 {
			return
		}
		if time.Now().After(deadline) || (err == nil && code != http.StatusMethodNotAllowed && code != http.StatusConflict) {
			t.Fatalf("giteatest: merge pull request %d: %d %s %v", number, code, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) call(method, path string, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+"/api/v1"+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "token "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// API calls Gitea's API v1 as the admin and decodes the answer into out.
func (s *Server) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	code, data, err := s.call(method, path, in)
	if err != nil {
		t.Fatalf("giteatest: %s %s: %v", method, path, err)
	}
	if code/100 != 2 {
		t.Fatalf("giteatest: %s %s: %d: %s", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("giteatest: %s %s: %v", method, path, err)
		}
	}
}

func findBinary() (string, error) {
	if p := os.Getenv(EnvBin); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable file", EnvBin, p)
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".tools", "bin", "gitea")
	if !isExecutable(p) {
		return "", fmt.Errorf("gitea not found at %s; run `make tools` (hack/install-tools.sh gitea) or set %s", p, EnvBin)
	}
	return p, nil
}

// staticRoot is Gitea's module folder in the Go module cache, which holds
// the locale files Gitea loads at start-up.
func staticRoot() (string, error) {
	if p := os.Getenv("GITEA_STATIC_ROOT"); p != "" {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "code.gitea.io", "gitea@"+Version)
	if _, err := os.Stat(filepath.Join(dir, "options", "locale")); err != nil {
		return "", fmt.Errorf("gitea's locale files are missing from %s (hack/install-tools.sh gitea downloads them; or set GITEA_STATIC_ROOT): %w", dir, err)
	}
	return dir, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
