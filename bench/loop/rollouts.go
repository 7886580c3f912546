package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/internal/testbed/load"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

// The same app as an Argo Rollouts Rollout, in a namespace of its own so
// that its Services and policies never meet bgrender's: what a team that
// keeps the Rollouts controller commits, applied by the same Flux.
const (
	roApp  = "my-rollout"
	roPath = "apps/my-rollout"
	roNS   = "bench-ro"
)

// rolloutPath is the Argo Rollouts side of the comparison: a blueGreen
// Rollout with autoPromotionEnabled (no pause, no analysis: bgrender's
// release here runs no gates either), its Services annotated
// kustomize.toolkit.fluxcd.io/ssa: IfNotPresent as Flux users must (so
// that Flux never takes the controller's selector hash away). A release is
// one commit of the new image, pushed, and the same reconcile request
// bgrender makes; it is done when the active Service's EndpointSlices list
// only the new pods. Each image also gets its own value of the pod label
// "version", so that the pod servers report which revision served a
// request, as they report a color.
type rolloutPath struct {
	bed     *loop.Cluster
	seed    string // a clone of the GitOps repository, pulled before each commit
	bare    string
	objs    []*unstructured.Unstructured
	version string // the pod label of the running revision
	pods    int    // the Rollout's replicas
	keep    *load.Run
	fresh   *load.Run
}

// setupRollout starts the Rollouts controller, commits the Rollout that
// `bgrender render --format argo-rollouts` writes for the bench's app
// (renamed, in its own namespace), lets Flux apply it, and starts clients
// on its active Service.
func setupRollout(ctx context.Context, bed *loop.Cluster, bin string, a *benchApp, seed, bare string) (*rolloutPath, func()) {
	ar, err := bed.StartRollouts(ctx)
	check(err)
	check(createNamespace(ctx, bed, roNS))
	specFile, err := a.renamed(filepath.Join(seed, ".."), roApp, roNS)
	check(err)
	out, err := output(bin, "render", specFile, "--format", "argo-rollouts")
	check(err)
	objs, err := loop.DecodeYAML(out)
	check(err)
	r := &rolloutPath{bed: bed, seed: seed, bare: bare, objs: objs, pods: a.replicas}
	for _, o := range objs {
		switch o.GetKind() {
		case "Rollout":
			check(unstructured.SetNestedField(o.Object, true, "spec", "strategy", "blueGreen", "autoPromotionEnabled"))
		case "Service":
			ann := o.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann["kustomize.toolkit.fluxcd.io/ssa"] = "IfNotPresent"
			o.SetAnnotations(ann)
		}
	}
	r.commit("myapp:ro-0", "ro-0")
	check(bed.ApplyYAML(ctx, []byte(kustomization(roApp, roPath, ""))))
	check(waitServes(ctx, bed, roNS, roApp, "version=ro-0", r.pods))

	svc, err := bed.Clientset().CoreV1().Services(roNS).Get(ctx, roApp, metav1.GetOptions{})
	check(err)
	url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port))) + "/"
	check(waitAnswers(ctx, bed, url))
	cfg := load.Config{URL: url, Clients: 1, Duration: load.MaxDuration, Pause: 10 * time.Millisecond, Dial: bed.DataPlane().DialFrom, ClientOffset: 4}
	r.keep, err = load.Start(ctx, cfg)
	check(err)
	cfg.Mode, cfg.ClientOffset = load.NewConnection, 5
	r.fresh, err = load.Start(ctx, cfg)
	check(err)
	fmt.Printf("Argo Rollouts %s: controller ready in %s; the Rollout applied by Flux; 1 keep-alive and 1 new-connection client to %s\n",
		loop.ArgoRolloutsVersion, ar.Startup.Round(time.Millisecond), url)
	return r, func() { r.keep.Stop(); r.fresh.Stop(); ar.Stop() }
}

// round releases image and returns the time from the commit's start to
// the active Service's EndpointSlices all on the new pods, and what the
// clients saw.
func (r *rolloutPath) round(ctx context.Context, i int) (time.Duration, transition) {
	git(r.seed, "pull", "--quiet", "--ff-only", r.bare, "main")
	from, to := r.version, fmt.Sprintf("ro-%d", i)
	start := time.Now()
	r.commit("myapp:"+to, to)
	_, err := agent.Reconcile(ctx, r.bed.Dynamic(), []agent.Ref{{Kind: "kustomization", Namespace: "flux-system", Name: roApp}}, time.Now(), func(string) {})
	check(err)
	check(waitServes(ctx, r.bed, roNS, roApp, "version="+to, r.pods))
	d := time.Since(start)
	time.Sleep(settle)
	return d, measure(r.keep.Records(), r.fresh.Records(), start, start.Add(d+settle), from, to)
}

// commit writes the Rollout's folder with image and version, commits and
// pushes it.
func (r *rolloutPath) commit(image, version string) {
	var docs []string
	for _, o := range r.objs {
		if o.GetKind() == "Rollout" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["image"] = image
			check(unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"))
			check(unstructured.SetNestedField(o.Object, version, "spec", "template", "metadata", "labels", "version"))
		}
		b, err := yaml.Marshal(o.Object)
		check(err)
		docs = append(docs, string(b))
	}
	dir := filepath.Join(r.seed, filepath.FromSlash(roPath))
	check(os.MkdirAll(dir, 0o755))
	check(os.WriteFile(filepath.Join(dir, "rollout.yaml"), []byte(strings.Join(docs, "---\n")), 0o644))
	git(r.seed, "add", "--all", ".")
	git(r.seed, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "--quiet", "-m", "my-rollout: "+image)
	git(r.seed, "push", "--quiet", r.bare, "HEAD:main")
	r.version = version
}
