package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/spec"
)

// benchApp is the app the bench releases: a BlueGreenApp spec as its user
// wrote it (-spec; the article's by default), committed unchanged into a
// managed folder. The bed's data plane node takes pods that tolerate
// nothing (loop.Config.OpenDataPlane), so the file needs no test-only
// tolerations, node selectors or namespaces.
type benchApp struct {
	file     string
	text     []byte
	spec     *spec.BlueGreenApp
	name     string // the live Service and the Deployments' prefix
	ns       string // the spec's namespace, or the Kustomization's targetNamespace
	path     string // its folder in the GitOps repository
	label    string // the color label
	replicas int    // ready endpoints of the active Service once a color is live
}

// defaultNamespace is where the app goes when its spec names none: the
// Kustomization's targetNamespace, as a Flux user would set it.
const defaultNamespace = "bench"

// loadApp reads and validates the spec file as bgrender does (located
// errors, exit 2 there; here the bench stops).
func loadApp(file string) (*benchApp, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	apps, err := spec.Load(file, data)
	if err != nil {
		return nil, err
	}
	if len(apps) != 1 {
		return nil, fmt.Errorf("%s: %d BlueGreenApp documents; the bench releases one", file, len(apps))
	}
	a := apps[0]
	b := &benchApp{file: file, text: data, spec: a, name: a.Metadata.Name, ns: a.Metadata.Namespace,
		path: "apps/" + a.Metadata.Name, label: a.Spec.ColorLabel}
	if b.ns == "" {
		b.ns = defaultNamespace
	}
	return b, nil
}

// createNamespace creates namespace name unless it exists, as a cluster admin would
// before the GitOps agent applies into it.
func createNamespace(ctx context.Context, bed *loop.Cluster, name string) error {
	_, err := bed.Clientset().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// kustomization is the Flux Kustomization that applies the folder path
// (with the targetNamespace when the spec names none).
func kustomization(name, path string, target string) string {
	spec := fmt.Sprintf("sourceRef: {kind: GitRepository, name: gitops}, path: ./%s, prune: true, interval: 10m", path)
	if target != "" {
		spec += ", targetNamespace: " + target
	}
	return fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: %s, namespace: flux-system}\nspec: {%s}\n", name, spec)
}

// targetNamespace is the Kustomization's targetNamespace: set only when
// the spec leaves the namespace to the applier.
func (b *benchApp) targetNamespace() string {
	if b.spec.Metadata.Namespace == "" {
		return b.ns
	}
	return ""
}

// image is the release's image of round i: the active color's image
// repository with the tag bench-i.
func (b *benchApp) image(i int) string {
	img := b.spec.Spec.Blue.Image
	if b.spec.Spec.Active == spec.Green {
		img = b.spec.Spec.Green.Image
	}
	if at := strings.LastIndex(img, "@"); at >= 0 {
		img = img[:at]
	}
	if colon := strings.LastIndex(img, ":"); colon > strings.LastIndex(img, "/") {
		img = img[:colon]
	}
	return fmt.Sprintf("%s:bench-%d", img, i)
}

// renamed writes the spec as another app (name and namespace), for the
// Argo Rollouts side, and returns the file's path.
func (b *benchApp) renamed(dir, name, ns string) (string, error) {
	c := *b.spec
	c.Metadata.Name, c.Metadata.Namespace = name, ns
	data, err := yaml.Marshal(&c)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, name+".yaml")
	return file, os.WriteFile(file, data, 0o644)
}
