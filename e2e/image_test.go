package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/kubetest"
)

// ociDescriptor, ociIndex, ociManifest and ociConfig are the parts of the
// OCI image spec the test reads, decoded here with the standard library
// rather than with the library that wrote them.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User       string   `json:"User"`
		Env        []string `json:"Env"`
		Entrypoint []string `json:"Entrypoint"`
		Cmd        []string `json:"Cmd"`
		WorkingDir string   `json:"WorkingDir"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// makeImage runs `make image` into dir and returns the manifest digest.
func makeImage(t *testing.T, root, dir string) {
	t.Helper()
	cmd := exec.Command("make", "-s", "image", "IMAGE_DIR="+dir, "IMAGE_TAG=bgrender:test")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
}

// blob reads a blob of the layout and checks that its content has the
// digest and size its descriptor says.
func blob(t *testing.T, dir string, d ociDescriptor) []byte {
	t.Helper()
	hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hexDigest || int64(len(data)) != d.Size {
		t.Fatalf("blob %s: content has sha256 %x and %d bytes, descriptor says %d", d.Digest, sum, len(data), d.Size)
	}
	return data
}

// TestImage builds the image with `make image`, twice (the same tree must
// give the same digest), then reads the OCI layout as a registry or a
// runtime would: index, manifest, config (entrypoint, non-root numeric
// user, environment), the layer (no shell, a CA bundle, the binary), and
// runs the extracted bgrender.
func TestImage(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("builds bgrender and the image; skipped under -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is for linux")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed: %v", err)
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir, again := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	makeImage(t, root, dir)
	makeImage(t, root, again)

	readIndex := func(dir string) ociIndex {
		data, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var idx ociIndex
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatalf("index.json: %v", err)
		}
		return idx
	}
	layoutFile, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || !strings.Contains(string(layoutFile), `"imageLayoutVersion": "1.0.0"`) && !strings.Contains(string(layoutFile), `"imageLayoutVersion":"1.0.0"`) {
		t.Fatalf("oci-layout: %q, %v", layoutFile, err)
	}
	idx := readIndex(dir)
	if idx.SchemaVersion != 2 || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %+v, want one manifest", idx)
	}
	md := idx.Manifests[0]
	if other := readIndex(again).Manifests[0].Digest; other != md.Digest {
		t.Errorf("two builds of the same tree: digests %s and %s", md.Digest, other)
	}
	if md.MediaType != "application/vnd.oci.image.manifest.v1+json" || md.Annotations["org.opencontainers.image.ref.name"] != "bgrender:test" {
		t.Errorf("index.json's manifest: %+v", md)
	}

	var m ociManifest
	if err := json.Unmarshal(blob(t, dir, md), &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != 2 || m.Config.MediaType != "application/vnd.oci.image.config.v1+json" || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("manifest: %+v", m)
	}
	var cfg ociConfig
	if err := json.Unmarshal(blob(t, dir, m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config: platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/local/bin/bgrender"}) || len(cfg.Config.Cmd) != 0 {
		t.Errorf("config: entrypoint %q, cmd %q; want bgrender and no cmd", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	user, group, _ := strings.Cut(cfg.Config.User, ":")
	if u, err := strconv.Atoi(user); err != nil || u == 0 {
		t.Errorf("config: user %q, want a numeric non-root user (runAsNonRoot needs a number)", cfg.Config.User)
	}
	if g, err := strconv.Atoi(group); err != nil || g == 0 {
		t.Errorf("config: group of %q, want numeric, not 0", cfg.Config.User)
	}
	for _, want := range []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"} {
		if !slices.Contains(cfg.Config.Env, want) {
			t.Errorf("config: env %q lacks %s", cfg.Config.Env, want)
		}
	}

	// The layer: its diff ID is the config's, and what it holds.
	gz := blob(t, dir, m.Layers[0])
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	diff := sha256.Sum256(raw)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(diff[:]) {
		t.Errorf("config: diff_ids %q, the layer's is sha256:%x", cfg.RootFS.DiffIDs, diff)
	}
	files := map[string][]byte{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		modes[name] = h.Mode
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			files[name] = data
			if h.Mode&0o111 != 0 && name != "/usr/local/bin/bgrender" {
				t.Errorf("layer: %s is executable; the image holds one program", name)
			}
		} else if h.Typeflag != tar.TypeDir {
			t.Errorf("layer: %s has type %c; want only files and folders", name, h.Typeflag)
		}
		if b := path.Base(name); slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, b) {
			t.Errorf("layer: %s: no shell is wanted", name)
		}
	}
	// The working folder must be enterable by any user: Argo CD runs its
	// plugin sidecars as user 999, not the image's.
	if wd := cfg.Config.WorkingDir; wd != "" {
		if mode, ok := modes[wd]; !ok || mode&0o001 == 0 {
			t.Errorf("layer: the working folder %s is missing or not enterable by other users (mode %o)", wd, mode)
		}
	}
	bin, ok := files["/usr/local/bin/bgrender"]
	if !ok || modes["/usr/local/bin/bgrender"] != 0o755 {
		t.Fatalf("layer: /usr/local/bin/bgrender missing or mode %o", modes["/usr/local/bin/bgrender"])
	}
	pool := x509.NewCertPool()
	if ca := files["/etc/ssl/certs/ca-certificates.crt"]; !pool.AppendCertsFromPEM(ca) || bytes.Count(ca, []byte("BEGIN CERTIFICATE")) < 100 {
		t.Errorf("layer: the CA bundle holds %d certificates, want the NSS roots (100+)", bytes.Count(ca, []byte("BEGIN CERTIFICATE")))
	}
	if !strings.Contains(string(files["/etc/passwd"]), ":"+user+":") {
		t.Errorf("layer: /etc/passwd does not name user %s", user)
	}

	// The binary: static (no ELF interpreter), and it runs.
	exe := filepath.Join(tmp, "bgrender")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has an ELF interpreter: it is not static")
		}
	}
	f.Close()
	out, err := exec.Command(exe, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "bgrender ") || !strings.Contains(string(out), "linux/"+runtime.GOARCH) {
		t.Errorf("bgrender version from the image: %v\n%s", err, out)
	}
}
