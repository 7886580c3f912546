// Command image writes bgrender's container image as an OCI image layout,
// without Docker: `make image` builds a static bgrender and runs it.
//
// The image holds one layer: the binary at /usr/local/bin/bgrender, a CA
// certificate bundle at /etc/ssl/certs/ca-certificates.crt (the NSS roots
// of golang.org/x/crypto/x509roots/fallback, pinned in this module's
// go.mod, so https Git remotes and forges verify), /etc/passwd and
// /etc/group naming the non-root user 65532, its home, and /tmp. There is
// no shell and no other program. The entrypoint is bgrender, the user is
// 65532:65532.
//
// The layout is deterministic: every file's time is -epoch (default
// $SOURCE_DATE_EPOCH, else 0), owners and modes are fixed, entries are
// sorted, and the image's creation time is the same epoch; the same binary
// and arguments give the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

const (
	binPath  = "/usr/local/bin/bgrender"
	caPath   = "/etc/ssl/certs/ca-certificates.crt"
	uid      = 65532
	userName = "nonroot"
	home     = "/home/nonroot"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, log io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static linux bgrender `FILE` to put in the image (required)")
	out := fs.String("out", "", "the OCI image layout `DIR` to write; replaced if it exists (required)")
	tag := fs.String("tag", "bgrender:latest", "the image's name in the layout's index.json (org.opencontainers.image.ref.name)")
	arch := fs.String("arch", runtime.GOARCH, "the binary's architecture (GOARCH)")
	version := fs.String("version", "", "the version for the org.opencontainers.image.version label")
	epoch := fs.Int64("epoch", sourceDateEpoch(), "Unix time of every file and of the image (default: $SOURCE_DATE_EPOCH, else 0)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: image -binary FILE -out DIR [-tag NAME] [-arch GOARCH] [-version V] [-epoch SECONDS]")
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	at := time.Unix(*epoch, 0).UTC()
	layerTar, err := rootFS(bin, at)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: at}, CreatedBy: "hack/image: " + binPath + ", CA bundle, non-root user", Comment: "bgrender"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", *arch
	cfg.Created = v1.Time{Time: at}
	cfg.Config = v1.Config{
		Entrypoint: []string{binPath},
		User:       strconv.Itoa(uid) + ":" + strconv.Itoa(uid),
		WorkingDir: home,
		Env: []string{
			"PATH=/usr/local/bin",
			"HOME=" + home,
			"SSL_CERT_FILE=" + caPath,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "bgrender",
			"org.opencontainers.image.description": "blue/green releases for Kubernetes without an in-cluster controller",
			"org.opencontainers.image.source":      "https://github.com/bgrender/bgrender",
		},
	}
	if *version != "" {
		cfg.Config.Labels["org.opencontainers.image.version"] = *version
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	p, err := layout.Write(*out, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img,
		layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": *tag}),
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: *arch})); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "image: wrote %s (%s) to %s\n", *tag, digest, *out)
	return nil
}

func sourceDateEpoch() int64 {
	n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// caBundle is the PEM bundle of the NSS roots without constraints. A root
// that NSS distrusts after a date cannot say so in a PEM file: it is left
// out rather than trusted without its limit.
func caBundle() ([]byte, int, error) {
	var buf bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if _, err := x509.ParseCertificate(r.Certificate); err != nil {
			return nil, 0, fmt.Errorf("CA bundle: %w", err)
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, 0, err
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("CA bundle: no roots")
	}
	return buf.Bytes(), n, nil
}

// rootFS is the layer's tar, its entries in a fixed order.
func rootFS(bin []byte, at time.Time) ([]byte, error) {
	ca, _, err := caBundle()
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, uid, userName, home)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	type entry struct {
		name  string
		mode  int64
		owner int
		data  []byte
		isDir bool
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, isDir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/", mode: 0o755, isDir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", mode: 0o755, isDir: true},
		{name: "home/nonroot/", mode: 0o755, owner: uid, isDir: true},
		{name: "tmp/", mode: 0o1777, isDir: true},
		{name: "usr/", mode: 0o755, isDir: true},
		{name: "usr/local/", mode: 0o755, isDir: true},
		{name: "usr/local/bin/", mode: 0o755, isDir: true},
		{name: "usr/local/bin/bgrender", mode: 0o755, data: bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.owner, Gid: e.owner,
			ModTime: at, Format: tar.FormatPAX,
		}
		if e.isDir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
