package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/cluster"
	"github.com/bgrender/bgrender/internal/exitcode"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

func TestConfigBadUsage(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HELM_NAMESPACE", "")
	good := kubetest.WriteKubeconfigFor(t, "http://127.0.0.1:1", "team", "SEKRITTOKEN")
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("this: [is not\n a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		opts cluster.Options
		want string
	}{
		"empty file":       {cluster.Options{Kubeconfig: empty}, "names no cluster and no current context"},
		"missing file":     {cluster.Options{Kubeconfig: "/nonexist/kubeconfig"}, "kubeconfig /nonexist/kubeconfig: no such file"},
		"not a config":     {cluster.Options{Kubeconfig: garbage}, garbage},
		"unknown context":  {cluster.Options{Kubeconfig: good, Context: "nope"}, `context "nope" does not exist in the kubeconfig`},
		"bad namespace":    {cluster.Options{Kubeconfig: good, Namespace: "Team_1"}, `namespace "Team_1" is not valid`},
		"negative timeout": {cluster.Options{Kubeconfig: good, RequestTimeout: -time.Second}, "--request-timeout -1s"},
	}
	for name, tt := range tests {
		_, _, err := tt.opts.Config()
		if exitcode.Of(err) != exitcode.Invalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v (exit %d), want exit 2 and %q", name, err, exitcode.Of(err), tt.want)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Setenv("HELM_NAMESPACE", "")
	path := kubetest.WriteKubeconfigFor(t, "http://127.0.0.1:1", "team", "SEKRITTOKEN")
	cfg, ns, err := cluster.Options{Kubeconfig: path}.Config()
	if err != nil {
		t.Fatalf("a kubeconfig whose server is down: %v; want no error until a request", err)
	}
	if ns != "team" || cfg.Timeout != cluster.DefaultRequestTimeout || cfg.UserAgent != "bgrender" {
		t.Errorf("namespace %q, timeout %s, user agent %q; want team, %s, bgrender", ns, cfg.Timeout, cfg.UserAgent, cluster.DefaultRequestTimeout)
	}
	cfg, ns, err = cluster.Options{Kubeconfig: path, Namespace: "other", RequestTimeout: 5 * time.Second}.Config()
	if err != nil || ns != "other" || cfg.Timeout != 5*time.Second {
		t.Errorf("namespace %q, timeout %s, %v; want other, 5s", ns, cfg.Timeout, err)
	}
	if w := cluster.ForWatch(cfg); w.Timeout != 0 || cfg.Timeout != 5*time.Second || w.Host != cfg.Host {
		t.Errorf("ForWatch: timeout %s (want 0), original's %s (want 5s unchanged)", w.Timeout, cfg.Timeout)
	}

	// A server that refuses connections is a runtime failure (exit 1).
	dyn, _, err := cluster.Options{Kubeconfig: path}.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	_, err = dyn.Resource(cluster.Services).Namespace("team").List(context.Background(), metav1.ListOptions{})
	if err == nil || exitcode.Of(err) != exitcode.Failure {
		t.Errorf("list against a closed port: %v, want a failure (exit 1)", err)
	}
}

// TestRequestTimeout: every ordinary request of a client from Dynamic
// (as postrender --from-cluster and --from-release make) ends after the
// request timeout when the API server accepts the connection and never
// answers.
func TestRequestTimeout(t *testing.T) {
	path := kubetest.WriteKubeconfigFor(t, kubetest.SilentServer(t), "team", "SEKRITTOKEN")
	dyn, _, err := cluster.Options{Kubeconfig: path, RequestTimeout: time.Second}.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = dyn.Resource(cluster.Services).Namespace("team").Get(context.Background(), "web", metav1.GetOptions{})
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the request took %s with a 1s timeout", took)
	}
	if err == nil || strings.Contains(err.Error(), "SEKRITTOKEN") {
		t.Fatalf("a request to a hanging server: %v", err)
	}
}
