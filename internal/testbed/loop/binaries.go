package loop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// Versions of the components, as hack/install-tools.sh builds them. The
// Flux versions also name the folders of the modules in the Go module cache
// whose CRDs the bed applies; KwokVersion is the version kwok-stages.yaml
// was copied from.
const (
	KubeVersion          = "v1.37.2"
	KwokVersion          = "v0.8.0"
	FluxSourceVersion    = "v1.9.6"
	FluxKustomizeVersion = "v1.9.6"
)

const (
	fluxSourceModule    = "github.com/fluxcd/source-controller"
	fluxKustomizeModule = "github.com/fluxcd/kustomize-controller"
	fluxCRDFolder       = "config/crd/bases"
	installHint         = "run `make tools` (or hack/install-tools.sh) from the repository root"
)

// Binaries holds the paths of the programs a bed runs.
type Binaries struct {
	Kube              kubetest.Binaries // etcd and kube-apiserver
	ControllerManager string
	Scheduler         string
	Kwok              string
	// MetricsServer is empty when not installed (only the Metrics part
	// needs it).
	MetricsServer string

	// Flux only.
	SourceController    string
	KustomizeController string
	FluxCRDs            []string // CRD files of both controllers
}

// MissingError names what a bed needs and could not find.
type MissingError struct {
	Missing []string
}

func (e *MissingError) Error() string {
	return "loop: missing " + strings.Join(e.Missing, "; missing ") + "; " + installHint
}

// FindBinaries locates the programs of the core bed (see
// kubetest.FindBinaries for etcd and kube-apiserver; the others are in
// <repo root>/.tools/bin), and with flux also Flux's two controllers and
// their CRDs (in the Go module cache). When something is missing, the error
// is a *MissingError naming all of it.
func FindBinaries(flux bool) (Binaries, error) {
	var b Binaries
	var missing []string
	kb, err := kubetest.FindBinaries()
	if mb, ok := errors.AsType[*kubetest.MissingBinariesError](err); ok {
		missing = append(missing, mb.Missing...)
	} else if err != nil {
		return b, err
	}
	b.Kube = kb

	root, rootErr := kubetest.RepoRoot()
	tool := func(name string) string {
		if rootErr != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", name, rootErr))
			return ""
		}
		p := filepath.Join(root, ".tools", "bin", name)
		if !isExecutable(p) {
			missing = append(missing, fmt.Sprintf("%s (%s does not exist)", name, p))
			return ""
		}
		return p
	}
	b.ControllerManager = tool("kube-controller-manager")
	b.Scheduler = tool("kube-scheduler")
	b.Kwok = tool("kwok")
	if rootErr == nil {
		if p := filepath.Join(root, ".tools", "bin", "metrics-server"); isExecutable(p) {
			b.MetricsServer = p
		}
	}
	if flux {
		b.SourceController = tool("source-controller")
		b.KustomizeController = tool("kustomize-controller")
		crds, err := fluxCRDFiles()
		if err != nil {
			missing = append(missing, err.Error())
		}
		b.FluxCRDs = crds
	}
	if len(missing) > 0 {
		return b, &MissingError{Missing: missing}
	}
	return b, nil
}

// fluxCRDFiles lists the CRD files of Flux's source-controller and
// kustomize-controller in the Go module cache (hack/install-tools.sh
// downloads both modules).
func fluxCRDFiles() ([]string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("Flux CRDs (go env GOMODCACHE: %v)", err)
	}
	cache := strings.TrimSpace(string(out))
	var files []string
	for _, mod := range []struct{ path, version string }{
		{fluxSourceModule, FluxSourceVersion},
		{fluxKustomizeModule, FluxKustomizeVersion},
	} {
		dir := filepath.Join(cache, escapeModulePath(mod.path)+"@"+mod.version, fluxCRDFolder)
		m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if len(m) == 0 {
			return nil, fmt.Errorf("Flux CRDs (no %s/*.yaml of %s@%s in the Go module cache)", fluxCRDFolder, mod.path, mod.version)
		}
		files = append(files, m...)
	}
	return files, nil
}

// escapeModulePath is the module cache's case encoding: each upper-case
// letter becomes "!" and its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
