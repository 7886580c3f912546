package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

const (
	// StartTimeout bounds how long Start waits for /readyz when ctx has no
	// earlier deadline.
	StartTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// logTailLines is how many log lines a start-up error quotes.
	logTailLines = 30
	// startAttempts bounds retries when a chosen port was taken meanwhile.
	startAttempts = 3

	// AdminUser is the user name of AdminToken; it is in system:masters.
	AdminUser = "admin"
	// ServiceClusterIPRange is the --service-cluster-ip-range of the server.
	ServiceClusterIPRange = "10.96.0.0/16"
)

// EnvKeep, when set to 1, makes Stop keep the server's temporary directory
// (data, certificates and logs) for inspection.
const EnvKeep = "KUBETEST_KEEP"

// Server is a running etcd and kube-apiserver pair. Its methods are safe for
// concurrent use.
type Server struct {
	dir     string
	host    string // https://127.0.0.1:PORT
	etcdURL string
	token   string

	etcd *Process
	api  *Process

	watchListOff bool // kube-apiserver runs with WatchList=false (old etcd)

	abort    bool // Stop kills without a grace period
	stopOnce sync.Once
	stopErr  error

	client *clients // shared by the helpers in apply.go

	nsMu   sync.Mutex
	nsUsed map[string]int // NewNamespace's names, by base
}

// Start starts etcd and kube-apiserver on free loopback ports in a new
// temporary directory and waits until the API server's /readyz succeeds (at
// most StartTimeout, or until ctx ends). ctx only bounds start-up: the
// processes run until Stop. On failure everything started is stopped and the
// error quotes the end of the logs.
func Start(ctx context.Context) (*Server, error) {
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	return StartWith(ctx, bins)
}

// StartWith is Start with explicit binaries and options.
func StartWith(ctx context.Context, bins Binaries, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s, err := start(ctx, bins, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
		// A port picked as free can be taken before the process binds it;
		// only that case is worth another try.
		if ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// tempPrefix names the servers' temporary directories; ownerFile in one
// holds the pid of the test process that owns it.
const (
	tempPrefix = "kubetest-"
	ownerFile  = "owner.pid"
)

func start(ctx context.Context, bins Binaries, o options) (_ *Server, retErr error) {
	removeStaleDirs()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	s := &Server{dir: dir, watchListOff: etcdNeedsWatchListOff(bins.Etcd)}
	defer func() {
		if retErr != nil {
			// Logs are already quoted in retErr; a server that never got
			// ready has nothing to drain.
			s.abort = true
			_ = s.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}

	ports, err := FreePorts(3)
	if err != nil {
		return nil, fmt.Errorf("kubetest: picking free ports: %w", err)
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	s.etcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	s.host = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	if err := s.writeCredentials(); err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}

	s.etcd, err = StartProcess("etcd", bins.Etcd, filepath.Join(dir, "etcd.log"), etcdEnv(),
		"--name=kubetest",
		"--logger=zap", // the 3.4 default (capnslog) only logs a deprecation warning
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+s.etcdURL,
		"--advertise-client-urls="+s.etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
	)
	if err != nil {
		return nil, err
	}

	// kube-apiserver waits for etcd by itself, so both start at once.
	apiArgs := []string{
		"--etcd-servers=" + s.etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		// As on real clusters: without it, privileged pod templates are
		// rejected outright instead of reaching Pod Security admission.
		"--allow-privileged=true",
	}
	if s.watchListOff {
		apiArgs = append(apiArgs, "--feature-gates=WatchList=false")
	}
	if o.aggregation {
		args, err := aggregationArgs(dir)
		if err != nil {
			return nil, fmt.Errorf("kubetest: %w", err)
		}
		apiArgs = append(apiArgs, args...)
	}
	s.api, err = StartProcess("kube-apiserver", bins.APIServer, filepath.Join(dir, "kube-apiserver.log"), os.Environ(), apiArgs...)
	if err != nil {
		return nil, s.startError(err)
	}

	if err := s.waitReady(ctx); err != nil {
		return nil, s.startError(err)
	}
	if s.client, err = newClients(s.RESTConfig()); err != nil {
		return nil, fmt.Errorf("kubetest: building clients: %w", err)
	}
	return s, nil
}

// removeStaleDirs removes the temporary directories of servers whose test
// process died without calling Stop (e.g. killed by go test -timeout; the
// kernel killed its children then). An etcd data directory is over 100 MB.
func removeStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range matches {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, kept on purpose (KUBETEST_KEEP), or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || pid == os.Getpid() || !processGone(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// writeCredentials writes the token file and the service account key pair.
func (s *Server) writeCredentials() error {
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return err
	}
	s.token = hex.EncodeToString(tok[:])
	tokens := fmt.Sprintf("%s,%s,%s,system:masters\n", s.token, AdminUser, AdminUser)
	if err := os.WriteFile(filepath.Join(s.dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	if err := os.WriteFile(filepath.Join(s.dir, "sa.key"), keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "sa.pub"), pubPEM, 0o644)
}

// etcdEnv is the environment without ETCD_* variables: etcd reads those as
// flags, and ETCD_BIN (ours) would be one it does not know.
func etcdEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed test server
		},
	}
	defer client.CloseIdleConnections()

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		if s.etcd.Exited() {
			return fmt.Errorf("etcd exited during start-up: %v", s.etcd.waitErr)
		}
		if s.api.Exited() {
			return fmt.Errorf("kube-apiserver exited during start-up: %v", s.api.waitErr)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.host+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("/readyz answered %d: %s", resp.StatusCode, lastLines(string(body), 10))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %w (last check: %s)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// startError wraps err with the end of both logs.
func (s *Server) startError(err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "kubetest: starting API server: %v", err)
	for _, p := range []*Process{s.api, s.etcd} {
		if p == nil {
			continue
		}
		if p.Name == "etcd" && !p.Exited() && !strings.Contains(err.Error(), "address already in use") {
			// A running etcd is rarely the problem; keep the message short.
			continue
		}
		data, rerr := os.ReadFile(p.LogPath)
		if rerr != nil {
			continue
		}
		tail := lastLines(string(data), logTailLines)
		if strings.TrimSpace(tail) == "" {
			tail = "(empty)"
		}
		fmt.Fprintf(&b, "\n--- last %d lines of %s log ---\n%s", logTailLines, p.Name, tail)
	}
	return errors.New(b.String())
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts returns n distinct loopback TCP ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RESTConfig returns a new client configuration for the API server,
// authenticated as AdminUser (system:masters). Each call returns a fresh
// copy that the caller may modify.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.host,
		BearerToken:     s.token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             -1, // no client-side rate limiting against a private server
		Burst:           -1,
	}
}

// AdminToken returns the bearer token of AdminUser, who is in system:masters.
func (s *Server) AdminToken() string { return s.token }

// Host returns the API server's URL, https://127.0.0.1:PORT. Its certificate
// is self-signed: clients must skip verification.
func (s *Server) Host() string { return s.host }

// WatchListOff reports whether kube-apiserver runs with
// --feature-gates=WatchList=false because its etcd is too old for it.
func (s *Server) WatchListOff() bool { return s.watchListOff }

// ServiceAccountKeyFile returns the path of the private key that signs
// service account tokens (for kube-controller-manager's
// --service-account-private-key-file).
func (s *Server) ServiceAccountKeyFile() string { return filepath.Join(s.dir, "sa.key") }

// CACertPEM returns the certificate of the CA that signed the API server's
// serving certificate (kube-apiserver writes it after the serving
// certificate in <cert dir>/apiserver.crt), for clients that verify it and
// for kube-controller-manager's --root-ca-file.
func (s *Server) CACertPEM() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, "certs", "apiserver.crt"))
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	var last *pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			last = b
		}
	}
	if last == nil {
		return nil, errors.New("kubetest: no certificate in apiserver.crt")
	}
	return pem.EncodeToMemory(last), nil
}

// Processes are etcd and kube-apiserver.
func (s *Server) Processes() []*Process { return []*Process{s.etcd, s.api} }

// EtcdURL returns etcd's client URL.
func (s *Server) EtcdURL() string { return s.etcdURL }

// Dir returns the server's temporary directory, which holds etcd.log and
// kube-apiserver.log. Stop removes it unless KUBETEST_KEEP=1.
func (s *Server) Dir() string { return s.dir }

// Kubeconfig returns a kubeconfig file's content for the server (admin
// token, TLS verification skipped), for tools such as helm or kubectl.
func (s *Server) Kubeconfig() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: %s
  user:
    token: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: %s
    namespace: default
current-context: kubetest
`, s.host, AdminUser, s.token, AdminUser)
	return b.Bytes()
}

// WriteKubeconfig writes Kubeconfig to path with mode 0600.
func (s *Server) WriteKubeconfig(path string) error {
	return os.WriteFile(path, s.Kubeconfig(), 0o600)
}

// Stop stops kube-apiserver and then etcd (SIGTERM, SIGKILL after a few
// seconds each) and removes the temporary directory unless KUBETEST_KEEP=1.
// It may be called more than once and on a nil Server.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		grace := stopGrace
		if s.abort {
			grace = 0
		}
		s.api.Stop(grace)
		s.etcd.Stop(grace)
		if s.client != nil {
			s.client.close()
		}
		if os.Getenv(EnvKeep) == "1" {
			_ = os.Remove(filepath.Join(s.dir, ownerFile)) // exempt from removeStaleDirs
			fmt.Fprintf(os.Stderr, "kubetest: keeping %s (%s=1)\n", s.dir, EnvKeep)
			return
		}
		s.stopErr = os.RemoveAll(s.dir)
	})
	return s.stopErr
}
