package kubetest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m, nil) }

const deploymentTemplate = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: NAMESPACE
spec:
  replicas: 1
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
      - name: app
        image: registry.example/app:1.0
        SECURITY
`

const restrictedSecurity = `securityContext:
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}`

const privilegedSecurity = `securityContext:
          privileged: true
          runAsUser: 0`

func deployment(t *testing.T, name, ns, security string) *unstructured.Unstructured {
	t.Helper()
	y := strings.NewReplacer("NAMESPACE", ns, "NAME", name, "SECURITY", security).Replace(deploymentTemplate)
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &obj.Object); err != nil {
		t.Fatalf("bad test YAML: %v\n%s", err, y)
	}
	return obj
}

func TestHarness(t *testing.T) {
	srv := kubetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const ns = "psa-restricted"
	if err := srv.CreateNamespace(ctx, ns, map[string]string{"pod-security.kubernetes.io/warn": "restricted"}); err != nil {
		t.Fatal(err)
	}

	t.Run("compliant deployment has no warnings", func(t *testing.T) {
		warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{deployment(t, "good", ns, restrictedSecurity)})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 0 {
			t.Fatalf("want no warnings, got %q", warnings)
		}
	})

	t.Run("privileged deployment gets Pod Security warnings", func(t *testing.T) {
		warnings, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{deployment(t, "bad", ns, privilegedSecurity)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("warnings: %q", warnings)
		found := false
		for _, w := range warnings {
			if !strings.HasPrefix(w, "Deployment/bad: ") {
				t.Errorf("warning without object prefix: %q", w)
			}
			if strings.Contains(w, `PodSecurity "restricted`) && strings.Contains(w, "securityContext.privileged") {
				found = true
			}
		}
		if !found {
			t.Fatalf("want a restricted Pod Security warning about privileged, got %q", warnings)
		}
	})

	t.Run("unknown field fails strict validation", func(t *testing.T) {
		obj := deployment(t, "typo", ns, restrictedSecurity)
		if err := unstructured.SetNestedField(obj.Object, int64(3), "spec", "replicaz"); err != nil {
			t.Fatal(err)
		}
		_, err := srv.ApplyDryRun(ctx, []*unstructured.Unstructured{obj})
		if err == nil {
			t.Fatal("want an error for spec.replicaz, got none")
		}
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "Deployment/typo") || !strings.Contains(err.Error(), "replicaz") {
			t.Fatalf("error should name the object and the field: %v", err)
		}
	})

	t.Run("dry run stores nothing", func(t *testing.T) {
		list, err := srv.Dynamic().Resource(deploymentsGVR).Namespace(ns).List(ctx, metav1ListOptions)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 0 {
			t.Fatalf("dry run created %d deployments", len(list.Items))
		}
	})

	t.Run("rest config is a fresh copy", func(t *testing.T) {
		a := srv.RESTConfig()
		a.BearerToken = "changed"
		if b := srv.RESTConfig(); b.BearerToken != srv.AdminToken() || b == a {
			t.Fatal("RESTConfig does not return a fresh copy")
		}
	})
}

var (
	deploymentsGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	metav1ListOptions = metav1.ListOptions{}
)

func TestFindBinariesNamesWhatIsMissing(t *testing.T) {
	bogus := t.TempDir() + "/no-such-binary"
	t.Setenv(kubetest.EnvAPIServerBin, bogus)
	t.Setenv(kubetest.EnvEtcdBin, bogus)
	_, err := kubetest.FindBinaries()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"kube-apiserver", "etcd", bogus, "hack/install-tools.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}
