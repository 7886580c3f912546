package loop_test

import (
	"context"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// TestPeer: the peer cluster is a second cluster of its own next to the
// bed — another API server, another directory, its own node — and its
// own Flux applies a push to it, and to it only: the namespace the
// commit goes to does not exist on the bed. StopPeer stops it and removes
// its directory, and leaves the bed alone. It logs what the peer costs
// (start-up time and resident memory), next to the bed's.
func TestPeer(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	began := time.Now()
	peer := loop.RequirePeer(t, loop.Flux)
	ready := time.Since(began)
	if peer == bed || peer.Host() == bed.Host() || peer.Dir() == bed.Dir() || peer.EtcdURL() == bed.EtcdURL() {
		t.Fatalf("the peer shares the bed's API server, etcd or directory: %s %s %s", peer.Host(), peer.EtcdURL(), peer.Dir())
	}
	if got := len(peer.Nodes()); got != loop.PeerNodes {
		t.Errorf("the peer has %d nodes, want %d", got, loop.PeerNodes)
	}
	if again := loop.RequirePeer(t, loop.Flux); again != peer {
		t.Error("a second RequirePeer started another cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	ns := peer.NewNamespace(t, ctx, "peer-app", nil)
	seed := t.TempDir()
	writeApp(t, seed, ns, "registry.example/web:1", false)
	git := gittest.NewServer(t)
	url := git.CreateRepo(t, "gitops", seed)
	applied := time.Now()
	if err := peer.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url)); err != nil {
		t.Fatal(err)
	}
	if err := peer.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml", "  name: my-application\n", "  name: peer-app\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitImage(ctx, peer, ns, "registry.example/web:1"); err != nil {
		t.Fatalf("%v\n%s", err, fluxStatus(ctx, peer))
	}
	t.Logf("the peer's Flux applied the commit, rolled out on the peer's node, %s after the GitRepository", loop.Since(applied))
	if pods := runningPods(t, ctx, peer, ns, "registry.example/web:1"); len(pods) != 3 {
		t.Errorf("%d pods running on the peer, want 3: %v", len(pods), pods)
	}
	if _, err := bed.Clientset().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the peer's namespace %s on the bed: %v, want NotFound", ns, err)
	}
	if _, err := bed.Dynamic().Resource(loop.KustomizationGVR).Namespace(loop.FluxNamespace).Get(ctx, "peer-app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the peer's Kustomization on the bed: %v, want NotFound", err)
	}

	bedMem, err := bed.ResidentMemory()
	if err != nil {
		t.Fatal(err)
	}
	peerMem, err := peer.ResidentMemory()
	if err != nil {
		t.Fatal(err)
	}
	loop.StopPeer()
	if _, err := os.Stat(peer.Dir()); os.Getenv(kubetest.EnvKeep) != "1" && !os.IsNotExist(err) {
		t.Errorf("the stopped peer's directory: %v, want it removed", err)
	}
	if _, err := bed.Clientset().Discovery().ServerVersion(); err != nil {
		t.Errorf("the bed after StopPeer: %v", err)
	}
	t.Logf("the peer: ready in %s (core %s, Flux %s), %d MiB resident; the bed: %d MiB resident",
		ready.Round(time.Millisecond), peer.StartupTime().Round(time.Millisecond), peer.FluxStartupTime().Round(time.Millisecond), peerMem>>20, bedMem>>20)
}
