package loop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// Argo Rollouts, as hack/install-tools.sh argo-rollouts builds it; the
// version also names the module's folder in the Go module cache, whose
// manifests/crds the controller's start applies.
const (
	ArgoRolloutsVersion   = "v1.10.2"
	ArgoRolloutsNamespace = "argo-rollouts" // the controller's POD_NAMESPACE
	argoRolloutsModule    = "github.com/argoproj/argo-rollouts"
	argoRolloutsCRDFolder = "manifests/crds"
)

// RolloutGVR is Argo Rollouts' Rollout resource.
var RolloutGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// ArgoRollouts is an Argo Rollouts controller running against a bed.
type ArgoRollouts struct {
	proc *kubetest.Process
	// Startup is how long CRDs, namespace and controller took to be ready.
	Startup time.Duration
}

// StartArgoRollouts starts Argo Rollouts' controller for one test, which
// stops it when it ends; the other tests of the bed never pay for it (see
// StartRollouts). A missing binary or CRD folder fails tb (skips it under
// go test -short, never when CI=true).
func (c *Cluster) StartArgoRollouts(tb testing.TB, ctx context.Context) *ArgoRollouts {
	tb.Helper()
	ar, err := c.StartRollouts(ctx)
	var miss *MissingError
	if errors.As(err, &miss) {
		missing(tb, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ar.Stop)
	return ar
}

// StartRollouts applies Argo Rollouts' CRDs (server-side), creates the
// namespace argo-rollouts and runs the controller out of the cluster with
// the bed's admin kubeconfig, without leader election; the caller stops
// it. The controller listens on every interface on its health and metrics
// ports and has no flag to change that: both are free ports, and nothing
// but the readiness check on loopback is ever sent to them. A missing
// binary or CRD folder is a *MissingError.
func (c *Cluster) StartRollouts(ctx context.Context) (*ArgoRollouts, error) {
	bin, crds, err := argoRolloutsFiles()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	var objs []*unstructured.Unstructured
	for _, f := range crds {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := DecodeYAML(data)
		if err != nil {
			return nil, fmt.Errorf("loop: %s: %w", f, err)
		}
		for _, d := range docs {
			if d.GetKind() == "CustomResourceDefinition" {
				objs = append(objs, d)
			}
		}
	}
	if err := c.Apply(ctx, objs); err != nil {
		return nil, fmt.Errorf("loop: applying Argo Rollouts' CRDs: %w", err)
	}
	for _, crd := range objs {
		if err := c.waitEstablished(ctx, crd.GetName()); err != nil {
			return nil, err
		}
	}
	c.RESTMapper().Reset()
	if err := c.CreateNamespace(ctx, ArgoRolloutsNamespace, nil); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	ports, err := kubetest.FreePorts(2)
	if err != nil {
		return nil, fmt.Errorf("loop: picking free ports: %w", err)
	}
	env := append(os.Environ(), "POD_NAMESPACE="+ArgoRolloutsNamespace)
	proc, err := kubetest.StartProcess("rollouts-controller", bin, filepath.Join(c.Dir(), "rollouts-controller.log"), env,
		"--kubeconfig="+c.kubeconfig,
		"--leader-elect=false",
		"--healthzPort="+strconv.Itoa(ports[0]),
		"--metricsPort="+strconv.Itoa(ports[1]),
	)
	if err != nil {
		return nil, err
	}
	ar := &ArgoRollouts{proc: proc}
	if err := waitHealthy(ctx, proc, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports[0])); err != nil {
		ar.Stop()
		return nil, fmt.Errorf("loop: %w", err)
	}
	ar.Startup = time.Since(began)
	return ar, nil
}

// Stop stops the controller.
func (a *ArgoRollouts) Stop() { a.proc.Stop(stopGrace) }

// LogTail returns the last lines of the controller's log.
func (a *ArgoRollouts) LogTail(n int) string { return a.proc.LogTail(n) }

// argoRolloutsFiles finds the controller in <repo root>/.tools/bin and its
// CRD files in the Go module cache.
func argoRolloutsFiles() (bin string, crds []string, err error) {
	return toolAndCRDs("rollouts-controller", "Argo Rollouts CRDs", argoRolloutsModule, ArgoRolloutsVersion, argoRolloutsCRDFolder, "*-crd.yaml")
}

// toolAndCRDs finds the binary name in <repo root>/.tools/bin and the CRD
// files matching pattern in folder of module@version in the Go module
// cache; what is missing is a MissingError (what names the CRDs in it).
func toolAndCRDs(name, what, module, version, folder, pattern string) (bin string, crds []string, err error) {
	var miss []string
	root, rerr := kubetest.RepoRoot()
	if rerr != nil {
		miss = append(miss, fmt.Sprintf("%s (%v)", name, rerr))
	} else if bin = filepath.Join(root, ".tools", "bin", name); !isExecutable(bin) {
		miss = append(miss, fmt.Sprintf("%s (%s does not exist)", name, bin))
	}
	out, gerr := exec.Command("go", "env", "GOMODCACHE").Output()
	if gerr == nil {
		dir := filepath.Join(strings.TrimSpace(string(out)), escapeModulePath(module)+"@"+version, folder)
		crds, _ = filepath.Glob(filepath.Join(dir, pattern))
	}
	if len(crds) == 0 {
		miss = append(miss, fmt.Sprintf("%s (no %s/%s of %s@%s in the Go module cache)", what, folder, pattern, module, version))
	}
	if len(miss) > 0 {
		return "", nil, &MissingError{Missing: miss}
	}
	return bin, crds, nil
}
