package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/status"
)

// helmWithBgrender returns Helm of the given major version set up to run
// bgrender as its post-renderer, and the flags that name it: a path for
// Helm 3, the plugin that `bgrender helm-plugin install` wrote for Helm 4.
//
// Helm 3 runs "bgrender postrender ARGS", or, with bare, "bgrender ARGS",
// which bgrender takes for the post-renderer because it gets only flags and
// piped input.
func helmWithBgrender(t *testing.T, major int, bare ...bool) (*helmtest.Helm, []string) {
	t.Helper()
	h := helmtest.Require(t, major)
	bin := helmtest.BuildBgrender(t)
	if major == 3 {
		if len(bare) > 0 && bare[0] {
			return h, []string{"--post-renderer", bin}
		}
		return h, []string{"--post-renderer", bin, "--post-renderer-args", "postrender"}
	}
	cmd := exec.Command(bin, "helm-plugin", "install", "--plugins-dir", h.PluginsDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bgrender helm-plugin install: %v\n%s", err, out)
	}
	return h, []string{"--post-renderer", "bgrender"}
}

func args(flags []string, extra ...string) []string {
	out := append([]string{}, flags...)
	for _, a := range extra {
		out = append(out, "--post-renderer-args", a)
	}
	return out
}

// TestHelmTemplateGolden runs `helm template` of every example chart with
// bgrender as post-renderer, with the real Helm 3 and Helm 4, and pins the
// output.
func TestHelmTemplateGolden(t *testing.T) {
	charts, _ := filepath.Glob("../examples/charts/*/Chart.yaml")
	if len(charts) < 2 {
		t.Fatalf("found %d example charts", len(charts))
	}
	for _, major := range []int{3, 4} {
		h, flags := helmWithBgrender(t, major)
		for _, c := range charts {
			dir := filepath.Dir(c)
			name := filepath.Base(dir)
			t.Run(fmt.Sprintf("helm%d/%s", major, name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := append([]string{"template", "demo", dir, "--namespace", "shop"}, args(flags, "--network-policy", "--quota")...)
				out, stderr, err := h.Run(ctx, cmd...)
				if err != nil {
					t.Fatalf("%v\n%s", err, stderr)
				}
				golden(t, filepath.Join("helm", fmt.Sprintf("%s-helm%d.yaml", name, major)), []byte(out))
			})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("..", "testdata", "golden", name), got)
}

// TestHelmUpgradeKeepsActiveColor is the story the post-renderer exists
// for, against a real API server: install, upgrade with a new image (it
// lands on the idle color only), flip with --active (both colors keep what
// they ran), upgrade again (the next image lands on the new idle color).
func TestHelmUpgradeKeepsActiveColor(t *testing.T) {
	srv := kubetest.Require(t)
	for _, tc := range []struct {
		name   string
		major  int
		bare   bool
		source func(release string) string
		// noNamespace leaves out --namespace: Helm does not pass the
		// release namespace, so bgrender must find the release itself.
		noNamespace bool
	}{
		{"helm3-from-release", 3, false, func(r string) string { return "--from-release=" + r }, false},
		{"helm3-from-cluster", 3, true, func(string) string { return "--from-cluster" }, false},
		{"helm4-from-release", 4, false, func(r string) string { return "--from-release=" + r }, false},
		{"helm4-no-namespace", 4, false, func(r string) string { return "--from-release=" + r }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			ns := strings.ReplaceAll(tc.name, "-", "")
			if len(ns) > 20 {
				ns = ns[:20]
			}
			ns = "story-" + ns
			if err := srv.CreateNamespace(ctx, ns, map[string]string{"pod-security.kubernetes.io/warn": "restricted"}); err != nil {
				t.Fatal(err)
			}
			kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
			if err := srv.WriteKubeconfig(kubeconfig); err != nil {
				t.Fatal(err)
			}
			adminKubeconfig := kubeconfig // its context names no namespace
			if tc.noNamespace {
				// The user's context namespace is the release's: bgrender,
				// told no namespace, takes it as Helm does.
				kubeconfig = withNamespace(t, kubeconfig, ns)
			}
			h, flags := helmWithBgrender(t, tc.major, tc.bare)
			h = h.WithKubeconfig(kubeconfig)
			client, err := kubernetes.NewForConfig(srv.RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			release := "web"
			if tc.noNamespace {
				release = "solo"
			}
			helm := func(tag string, extra ...string) {
				t.Helper()
				pr := []string{tc.source(release), "--namespace=" + ns}
				if tc.noNamespace {
					pr = pr[:1]
				}
				cmd := append([]string{"upgrade", "--install", release, "../examples/charts/web", "--namespace", ns, "--set", "image.tag=" + tag},
					args(flags, append(pr, extra...)...)...)
				if _, stderr, err := h.Run(ctx, cmd...); err != nil {
					t.Fatalf("helm %s: %v\n%s", strings.Join(cmd, " "), err, stderr)
				}
			}
			state := func() (blue, green, selected string) {
				t.Helper()
				image := func(name string) string {
					d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					return strings.TrimPrefix(d.Spec.Template.Spec.Containers[0].Image, "nginxinc/nginx-unprivileged:")
				}
				svc, err := client.CoreV1().Services(ns).Get(ctx, release, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				preview, err := client.CoreV1().Services(ns).Get(ctx, release+"-preview", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if preview.Spec.Selector["bgrender.io/color"] == svc.Spec.Selector["bgrender.io/color"] {
					t.Errorf("the preview Service selects the live color %s", svc.Spec.Selector["bgrender.io/color"])
				}
				return image(release + "-blue"), image(release + "-green"), svc.Spec.Selector["bgrender.io/color"]
			}
			check := func(step, wantBlue, wantGreen, wantLive string) {
				t.Helper()
				blue, green, live := state()
				if blue != wantBlue || green != wantGreen || live != wantLive {
					t.Errorf("after %s: blue=%s green=%s live=%s; want blue=%s green=%s live=%s", step, blue, green, live, wantBlue, wantGreen, wantLive)
				}
				// bgrender status finds the post-rendered release by its
				// Service, though its objects carry no bgrender labels.
				reader, err := status.NewReader(srv.RESTConfig(), ns)
				if err != nil {
					t.Fatal(err)
				}
				app, err := reader.Get(ctx, release)
				if err != nil {
					t.Fatalf("status after %s: %v", step, err)
				}
				got := fmt.Sprintf("live=%s %s=%v %s=%v", app.Live, app.Colors[0].Deployment, app.Colors[0].Images, app.Colors[1].Deployment, app.Colors[1].Images)
				want := fmt.Sprintf("live=%s %s-blue=[nginxinc/nginx-unprivileged:%s] %s-green=[nginxinc/nginx-unprivileged:%s]", wantLive, release, wantBlue, release, wantGreen)
				if got != want || app.Services[1].Name != release+"-preview" || app.Services[1].Selects == wantLive {
					t.Errorf("status after %s: %s, preview %+v; want %s", step, got, app.Services[1], want)
				}
			}

			helm("1.25.0")
			check("install", "1.25.0", "1.25.0", "blue")
			helm("1.26.0")
			check("upgrade to 1.26", "1.25.0", "1.26.0", "blue")
			// The promotion flips the Services and keeps both colors: blue,
			// live until now, still runs 1.25 to roll back to.
			helm("1.26.0", "--active=green")
			check("flip to green", "1.25.0", "1.26.0", "green")
			helm("1.27.0")
			check("upgrade to 1.27", "1.27.0", "1.26.0", "green")
			// The next promotion: blue goes live on 1.27, green keeps 1.26.
			helm("1.27.0", "--active=blue")
			check("flip to blue", "1.27.0", "1.26.0", "blue")

			if tc.noNamespace {
				// With a kubeconfig whose namespace is not the release's
				// (helm -n elsewhere), the release is found only in other
				// namespaces: a first install here or an upgrade there?
				// bgrender cannot tell, and says so.
				cmd := exec.CommandContext(ctx, helmtest.BuildBgrender(t), "postrender", "--from-release="+release, "--kubeconfig", adminKubeconfig)
				cmd.Stdin = strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 2 || stdout.Len() != 0 ||
					!strings.Contains(stderr.String(), "release "+release+" is not in namespace default (the kubeconfig's) but in "+ns) {
					t.Errorf("ambiguous release: %v, stdout %q, stderr %s", err, stdout.String(), stderr.String())
				}
			}
		})
	}
}

// TestHelm3PassThroughIsByteIdentical compares `helm template` with and
// without bgrender: every document that bgrender does not transform
// (comments, odd quoting, block scalars, a hook, an Ingress) must come out
// byte for byte. Helm 4 re-encodes all post-rendered output itself, so only
// Helm 3 can show this from the outside.
func TestHelm3PassThroughIsByteIdentical(t *testing.T) {
	h, flags := helmWithBgrender(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	plain, stderr, err := h.Run(ctx, "template", "demo", "../examples/charts/shop", "--namespace", "shop")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	post, stderr, err := h.Run(ctx, append([]string{"template", "demo", "../examples/charts/shop", "--namespace", "shop"}, flags...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	untouched := 0
	for _, doc := range strings.SplitAfter(plain, "\n---") {
		for _, kind := range []string{"kind: ConfigMap", "kind: Ingress", "kind: Job", "name: demo-api\n"} {
			if strings.Contains(doc, kind) {
				doc = strings.TrimSuffix(doc, "---")
				if !strings.Contains(post, doc) {
					t.Errorf("this document changed:\n%s", doc)
				}
				untouched++
			}
		}
	}
	if untouched < 5 {
		t.Errorf("checked %d untouched documents, want at least 5 (ConfigMap, Ingress, hook Job, api Deployment and Service)", untouched)
	}
	if !strings.Contains(post, "name: demo-frontend-blue") {
		t.Errorf("the frontend Deployment was not transformed")
	}
}

// TestHelmPluginInstallNeedsHelm4: Helm 3 has no post-renderer plugins;
// installing one for it is refused with the way Helm 3 takes bgrender.
func TestHelmPluginInstallNeedsHelm4(t *testing.T) {
	h := helmtest.Require(t, 3)
	cmd := exec.Command(helmtest.BuildBgrender(t), "helm-plugin", "install", "--helm", h.Bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "has no post-renderer plugins") {
		t.Fatalf("%v: %s", err, stderr.String())
	}
}

// TestHelmAdoptsARelease: a release installed without bgrender, then
// upgraded with it. The first such upgrade keeps the old Deployment and
// the Service as they are while both colors start; the next drops the old
// Deployment and routes the Service to a color. At no step does the
// Service lose the pods it had.
func TestHelmAdoptsARelease(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := srv.NewNamespace(t, ctx, "adopt", nil)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	h, flags := helmWithBgrender(t, 3)
	h = h.WithKubeconfig(kubeconfig)
	client, err := kubernetes.NewForConfig(srv.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	upgrade := func(extra ...string) {
		t.Helper()
		cmd := append([]string{"upgrade", "--install", "web", "../examples/charts/web", "--namespace", ns, "--set", "image.tag=1.25.0"}, extra...)
		if _, stderr, err := h.Run(ctx, cmd...); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(cmd, " "), err, stderr)
		}
	}
	deployments := func() string {
		t.Helper()
		l, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range l.Items {
			names = append(names, d.Name)
		}
		return strings.Join(names, ",")
	}
	selector := func() map[string]string {
		t.Helper()
		svc, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return svc.Spec.Selector
	}

	upgrade() // installed without bgrender
	if got := deployments(); got != "web" {
		t.Fatalf("plain install: %s", got)
	}
	plain := selector()
	upgrade(args(flags, "--from-release=web", "--namespace="+ns)...)
	if got := deployments(); got != "web,web-blue,web-green" {
		t.Errorf("adopting upgrade: Deployments %s, want web,web-blue,web-green", got)
	}
	if got := selector(); fmt.Sprint(got) != fmt.Sprint(plain) {
		t.Errorf("adopting upgrade changed the Service selector: %v, was %v", got, plain)
	}
	upgrade(args(flags, "--from-release=web", "--namespace="+ns)...)
	if got := deployments(); got != "web-blue,web-green" {
		t.Errorf("next upgrade: Deployments %s, want web-blue,web-green", got)
	}
	if got := selector()["bgrender.io/color"]; got != "blue" {
		t.Errorf("next upgrade: the Service selects color %q, want blue", got)
	}
}

// withNamespace writes a copy of the kubeconfig at path whose contexts
// name namespace, and returns its path.
func withNamespace(t *testing.T, path, namespace string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Contexts {
		c.Namespace = namespace
	}
	out := filepath.Join(t.TempDir(), "kubeconfig-"+namespace)
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}
