package loop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
)

func TestMain(m *testing.M) { loop.Main(m) }

func webDeployment(ns, image string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Tolerations: []corev1.Toleration{loop.Toleration},
					Containers: []corev1.Container{{
						Name:           "app",
						Image:          image,
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}}},
					}},
				},
			},
		},
	}
}

// TestControllersRollOut: on the bed, a Deployment rolls out for real
// (every status field written by the controllers, pods scheduled onto the
// fake nodes and made Ready by kwok), a Service's EndpointSlices list its
// pods, and a rolling update replaces them.
func TestControllersRollOut(t *testing.T) {
	bed := loop.Require(t)
	t.Logf("bed started in %s (%d nodes, etcd WatchList off: %v)", bed.StartupTime().Round(time.Millisecond), len(bed.Nodes()), bed.WatchListOff())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := bed.Clientset()
	ns := bed.NewNamespace(t, ctx, "rollout", nil)

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, webDeployment(ns, "registry.example/web:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := bed.WaitDeploymentAvailable(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3 replicas available %s after create", loop.Since(began))
	if d.Status.ReadyReplicas != 3 {
		t.Errorf("readyReplicas = %d, want 3", d.Status.ReadyReplicas)
	}

	pods := runningPods(t, ctx, bed, ns, "registry.example/web:1")
	if len(pods) != 3 {
		t.Fatalf("want 3 running pods of web:1, got %v", pods)
	}
	if err := loop.WaitFor(ctx, "the EndpointSlices of Service web to list its 3 pods", func(ctx context.Context) (bool, error) {
		eps, err := bed.ReadyEndpoints(ctx, ns, "web")
		slices.Sort(eps)
		return slices.Equal(eps, pods), err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("EndpointSlices list the pods %s after create", loop.Since(began))

	// A rolling update: the controllers replace every pod.
	began = time.Now()
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bed.WaitDeploymentAvailable(ctx, ns, "web"); err != nil {
		t.Fatal(err)
	}
	t.Logf("rolling update complete in %s", loop.Since(began))
	newPods := runningPods(t, ctx, bed, ns, "registry.example/web:2")
	if len(newPods) != 3 {
		t.Fatalf("want 3 running pods of web:2, got %v", newPods)
	}
	if err := loop.WaitFor(ctx, "the EndpointSlices of Service web to list only the new pods", func(ctx context.Context) (bool, error) {
		eps, err := bed.ReadyEndpoints(ctx, ns, "web")
		slices.Sort(eps)
		return slices.Equal(eps, newPods), err
	}); err != nil {
		t.Fatal(err)
	}
}

// runningPods returns the sorted names of the Running, Ready pods of app
// web in ns that run image, after checking each is on a fake node.
func runningPods(t *testing.T, ctx context.Context, bed *loop.Cluster, ns, image string) []string {
	t.Helper()
	list, err := bed.Clientset().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Spec.Containers[0].Image != image || p.Status.Phase != corev1.PodRunning {
			continue
		}
		if !slices.Contains(bed.Nodes(), p.Spec.NodeName) && p.Spec.NodeName != loop.DataPlaneNodeName {
			t.Errorf("pod %s is on node %q, not a fake node", p.Name, p.Spec.NodeName)
		}
		if p.Status.PodIP == "" {
			t.Errorf("pod %s has no IP", p.Name)
		}
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// The app folder of TestFluxAppliesPushes's repository, at the path
// examples/gitops/flux/kustomization-my-application.yaml points to.
const appFolder = "apps/my-application"

func writeApp(t *testing.T, root, ns, image string, withConfigMap bool) {
	t.Helper()
	dir := filepath.Join(root, appFolder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n"
	if withConfigMap {
		kust += "- configmap.yaml\n"
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: " + ns + "\ndata:\n  k: v\n"
		write(t, filepath.Join(dir, "configmap.yaml"), cm)
	} else {
		_ = os.Remove(filepath.Join(dir, "configmap.yaml"))
	}
	write(t, filepath.Join(dir, "kustomization.yaml"), kust)
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: NS
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}
      containers:
      - name: app
        image: IMAGE
`
	write(t, filepath.Join(dir, "deployment.yaml"), strings.NewReplacer("NS", ns, "IMAGE", image).Replace(deploy))
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFluxAppliesPushes: Flux, configured with the files users copy from
// examples/gitops/flux, applies what is pushed to a smart-HTTP Git server:
// first at its 5 s interval, then, with the interval back at the example's
// minute, at once when asked with the reconcile annotation; and it prunes
// what a push removed.
func TestFluxAppliesPushes(t *testing.T) {
	bed := loop.Require(t, loop.Flux)
	t.Logf("bed started in %s, Flux in %s", bed.StartupTime().Round(time.Millisecond), bed.FluxStartupTime().Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cs := bed.Clientset()
	ns := bed.NewNamespace(t, ctx, "flux-app", nil)

	git := gittest.NewServer(t)
	seed := t.TempDir()
	writeApp(t, seed, ns, "registry.example/web:1", true)
	url := git.CreateRepo(t, "gitops", seed)

	exampleURL := "url: https://git.example.com/ops/gitops.git"
	gitRepo := loop.FluxExample(t, "gitrepository.yaml", exampleURL, "url: "+url, "interval: 1m", "interval: 5s")
	began := time.Now()
	if err := bed.ApplyYAML(ctx, gitRepo); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitImage(ctx, bed, ns, "registry.example/web:1"); err != nil {
		t.Fatalf("%v\n%s", err, fluxStatus(ctx, bed))
	}
	t.Logf("first commit applied and rolled out %s after applying the GitRepository and Kustomization", loop.Since(began))
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Fatalf("ConfigMap web-config not applied: %v", err)
	}

	// Back to the example's interval of a minute: from now on only the
	// annotation can make Flux fetch within the test's time.
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", exampleURL, "url: "+url)); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "GitRepository gitops to reconcile its new spec", func(ctx context.Context) (bool, error) {
		return fluxReady(ctx, bed, loop.GitRepositoryGVR, "gitops")
	}); err != nil {
		t.Fatalf("%v\n%s", err, fluxStatus(ctx, bed))
	}

	// A second commit, pushed over HTTP with the git CLI: a new image, and
	// the ConfigMap removed.
	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, "", "clone", "--quiet", url, clone)
	writeApp(t, clone, ns, "registry.example/web:2", false)
	gittest.Git(t, clone, "add", "--all", ".")
	gittest.Git(t, clone, "commit", "--quiet", "-m", "web:2, no ConfigMap")
	gittest.Git(t, clone, "push", "--quiet", "origin", "HEAD:main")
	sha := gittest.Git(t, clone, "rev-parse", "HEAD")

	began = time.Now()
	if err := bed.RequestReconcile(ctx, loop.GitRepositoryGVR, loop.FluxNamespace, "gitops"); err != nil {
		t.Fatal(err)
	}
	if err := loop.WaitFor(ctx, "Kustomization my-application to apply "+sha, func(ctx context.Context) (bool, error) {
		k, err := bed.Dynamic().Resource(loop.KustomizationGVR).Namespace(loop.FluxNamespace).Get(ctx, "my-application", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		rev, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		return strings.HasSuffix(rev, sha), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, fluxStatus(ctx, bed))
	}
	applied := time.Since(began)
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.example/web:2" {
		t.Fatalf("after the second commit was applied, the Deployment runs %s", got)
	}
	if _, err := bed.WaitDeploymentAvailable(ctx, ns, "web"); err != nil {
		t.Fatal(err)
	}
	t.Logf("second commit applied %s after the reconcile request, rolled out after %s", applied.Round(time.Millisecond), loop.Since(began))
	if applied > 20*time.Second {
		t.Errorf("the reconcile request took %s to apply the commit; the annotation should make it about a second", applied)
	}
	if err := loop.WaitFor(ctx, "ConfigMap web-config to be pruned", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}); err != nil {
		t.Fatal(err)
	}
}

// waitImage waits until Deployment web in ns runs image and is rolled out.
func waitImage(ctx context.Context, bed *loop.Cluster, ns, image string) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := loop.WaitFor(ctx, "Deployment web to run "+image+" and be rolled out", func(ctx context.Context) (bool, error) {
		var err error
		d, err = bed.Clientset().AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return d.Spec.Template.Spec.Containers[0].Image == image && loop.DeploymentRolledOut(d), nil
	})
	return d, err
}

// fluxReady reports whether the Flux object name in flux-system has
// reconciled its current generation and is Ready.
func fluxReady(ctx context.Context, bed *loop.Cluster, gvr schema.GroupVersionResource, name string) (bool, error) {
	obj, err := bed.Dynamic().Resource(gvr).Namespace(loop.FluxNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	if observed < obj.GetGeneration() {
		return false, nil
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true, nil
		}
	}
	return false, nil
}

// fluxStatus describes the Flux objects' conditions, for failures.
func fluxStatus(ctx context.Context, bed *loop.Cluster) string {
	var b strings.Builder
	for _, gvr := range []schema.GroupVersionResource{loop.GitRepositoryGVR, loop.KustomizationGVR} {
		list, err := bed.Dynamic().Resource(gvr).Namespace(loop.FluxNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", gvr.Resource, err)
			continue
		}
		for _, obj := range list.Items {
			st, _, _ := unstructured.NestedMap(obj.Object, "status")
			fmt.Fprintf(&b, "%s %s: status %v\n", obj.GetKind(), obj.GetName(), st)
		}
	}
	fmt.Fprintf(&b, "logs in %s (KUBETEST_KEEP=1 keeps them)", bed.Dir())
	return b.String()
}
