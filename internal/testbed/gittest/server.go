package gittest

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is a failure the server injects into the requests it answers.
type Fault int

// The faults a server can inject.
const (
	// NoFault serves every request normally.
	NoFault Fault = iota
	// ReceivePack500 answers every push (POST git-receive-pack) with
	// 500 Internal Server Error without running the backend.
	ReceivePack500
	// CutPush reads part of a push's request body and then closes the
	// connection without an answer; the backend never sees the push.
	CutPush
	// RejectAuth answers every request with 401 Unauthorized, whatever
	// credentials it carries.
	RejectAuth
)

// Server is a smart-HTTP Git server on a loopback port.
type Server struct {
	// URL is the base URL; a repository named NAME is at URL + "/" + NAME.
	URL string
	// Root holds the bare repositories (GIT_PROJECT_ROOT).
	Root string

	token   string
	backend http.Handler
	http    *http.Server

	fault    atomic.Int32
	pushes   atomic.Int64 // receive-pack POSTs that reached the backend
	requests atomic.Int64

	log lockedBuffer // what git http-backend wrote to standard error
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BackendLog returns what git http-backend wrote to standard error, such
// as the "cannot lock ref" lines of pushes that lost a race.
func (s *Server) BackendLog() string { return s.log.String() }

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server demand token on every request: as the
// password (or the user name) of basic auth, or as a bearer token.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// GitPath returns the path of the git CLI, failing t when it is missing
// (skipping it under -short).
func GitPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		if testing.Short() {
			t.Skip("git CLI not found; skipped under -short")
		}
		t.Fatalf("gittest: the git CLI is required (install the git package): %v", err)
	}
	return p
}

// NewServer starts a server for the duration of the test.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	GitPath(t)
	s, err := Serve(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("gittest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Serve starts a server for the bare repositories below root, outside a
// test (benchmarks use it); Close stops it.
func Serve(root string, opts ...Option) (*Server, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	s := &Server{Root: root}
	for _, o := range opts {
		o(s)
	}
	s.backend = &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Dir:  s.Root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + s.Root,
		},
		InheritEnv: []string{"PATH"},
		Stderr:     &s.log,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // returns on Close
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// SetFault makes the server inject f from now on (NoFault to stop).
func (s *Server) SetFault(f Fault) { s.fault.Store(int32(f)) }

// Pushes counts the pushes that reached the backend.
func (s *Server) Pushes() int64 { return s.pushes.Load() }

// Requests counts every request the server answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// ServeHTTP checks the credentials, injects the current fault and hands the
// request to git http-backend.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	fault := Fault(s.fault.Load())
	if fault == RejectAuth || !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	push := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack")
	if push {
		switch fault {
		case ReceivePack500:
			io.Copy(io.Discard, r.Body) //nolint:errcheck
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		case CutPush:
			cut(w, r)
			return
		}
		s.pushes.Add(1)
		cw := &countingWriter{ResponseWriter: w}
		s.backend.ServeHTTP(cw, r)
		if os.Getenv("GITTEST_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "receive-pack: %d bytes answered: %q\n", cw.n, cw.body.String())
		}
		return
	}
	s.backend.ServeHTTP(w, r)
}

// cut reads a little of the request body, then closes the connection
// without answering.
func cut(w http.ResponseWriter, r *http.Request) {
	buf := make([]byte, 64)
	io.ReadAtLeast(r.Body, buf, 1) //nolint:errcheck
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("gittest: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // reset rather than close cleanly
	}
	conn.Close()
}

func (s *Server) authorized(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	if user, pass, ok := r.BasicAuth(); ok {
		return equal(pass, s.token) || (equal(user, s.token) && (pass == "" || pass == "x-oauth-basic"))
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return equal(tok, s.token)
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// RepoURL is the URL of the repository name.
func (s *Server) RepoURL(name string) string { return s.URL + "/" + name }

// RepoDir is the folder of the bare repository name.
func (s *Server) RepoDir(name string) string { return filepath.Join(s.Root, name) }

// CreateRepo creates the bare repository name on branch "main". When seed
// is not empty, the repository gets one commit holding seed's files. It
// returns the repository's URL.
func (s *Server) CreateRepo(t testing.TB, name, seed string) string {
	t.Helper()
	dir := s.RepoDir(name)
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	Git(t, dir, "config", "http.receivepack", "true")
	if seed != "" {
		Commit(t, dir, seed, "seed")
	}
	return s.RepoURL(name)
}

// Commit commits the files of folder src on top of the main branch of the
// bare repository bare (a full snapshot: files missing from src are
// deleted), with the git CLI and no network, and returns the commit hash.
func Commit(t testing.TB, bare, src, message string) string {
	t.Helper()
	env := []string{"GIT_DIR=" + bare, "GIT_WORK_TREE=" + src, "GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")}
	gitEnv(t, "", env, "add", "--all", ".")
	tree := gitEnv(t, "", env, "write-tree")
	args := []string{"commit-tree", tree, "-m", message}
	if parent, err := gitOut("", env, "rev-parse", "--verify", "--quiet", "refs/heads/main"); err == nil {
		args = append(args, "-p", strings.TrimSpace(parent))
	}
	commit := gitEnv(t, "", env, args...)
	gitEnv(t, "", env, "update-ref", "refs/heads/main", commit)
	return commit
}

// Clone clones the repository name with the git CLI (from the folder, not
// over HTTP) into a new temporary folder and returns the folder.
func (s *Server) Clone(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	Git(t, "", "clone", "--quiet", s.RepoDir(name), dir)
	return dir
}

// Head returns the commit at the tip of branch in the repository name.
func (s *Server) Head(t testing.TB, name, branch string) string {
	t.Helper()
	return Git(t, s.RepoDir(name), "rev-parse", "refs/heads/"+branch)
}

// CommitCount counts the commits reachable from branch.
func (s *Server) CommitCount(t testing.TB, name, branch string) int {
	t.Helper()
	var n int
	fmt.Sscan(Git(t, s.RepoDir(name), "rev-list", "--count", "refs/heads/"+branch), &n) //nolint:errcheck
	return n
}

// Trailers returns the trailers of a commit as a map (the last value wins).
func Trailers(t testing.TB, dir, rev string) map[string]string {
	t.Helper()
	out := Git(t, dir, "log", "-1", "--format=%(trailers:only,unfold)", rev)
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			m[k] = v
		}
	}
	return m
}

// Git runs the git CLI in dir ("" for the current folder) and returns its
// standard output without the trailing newline; it fails t on an error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return gitEnv(t, dir, nil, args...)
}

func gitEnv(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := gitOut(dir, env, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimRight(out, "\n")
}

func gitOut(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gittest", "GIT_AUTHOR_EMAIL=gittest@example.com",
		"GIT_COMMITTER_NAME=gittest", "GIT_COMMITTER_EMAIL=gittest@example.com")
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

type countingWriter struct {
	http.ResponseWriter
	n    int
	body bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += n
	c.body.Write(p[:n])
	return n, err
}
