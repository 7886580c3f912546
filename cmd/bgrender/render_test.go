package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/spec"
)

func TestRenderGolden(t *testing.T) {
	for name, path := range examples(t) {
		t.Run(name, func(t *testing.T) {
			yamlOut := runCLI(t, "", "render", path)
			if yamlOut.code != 0 || yamlOut.stderr != "" {
				t.Fatalf("render %s: exit %d, stderr:\n%s", path, yamlOut.code, yamlOut.stderr)
			}
			golden(t, name+".yaml", []byte(yamlOut.stdout))

			jsonOut := runCLI(t, "", "render", "-o", "json", path)
			if jsonOut.code != 0 {
				t.Fatalf("render -o json: exit %d: %s", jsonOut.code, jsonOut.stderr)
			}
			if !json.Valid([]byte(jsonOut.stdout)) {
				t.Fatalf("render -o json printed invalid JSON")
			}
			golden(t, name+".json", []byte(jsonOut.stdout))

			again := runCLI(t, "", "render", path)
			if again.stdout != yamlOut.stdout {
				t.Errorf("a second render of %s differs from the first", path)
			}
		})
	}
}

func TestRenderStdinMatchesFile(t *testing.T) {
	path := examples(t)["seed"]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := runCLI(t, "", "render", path)
	fromStdin := runCLI(t, string(data), "render", "-")
	if fromStdin.code != 0 || fromStdin.stdout != fromFile.stdout {
		t.Fatalf("render - (exit %d, stderr %q) differs from render %s", fromStdin.code, fromStdin.stderr, path)
	}
}

func TestRenderMultiDocumentAndSeveralFiles(t *testing.T) {
	ex := examples(t)
	seed, _ := os.ReadFile(ex["seed"])
	minimal, _ := os.ReadFile(ex["minimal"])
	multi := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(multi, append(append(seed, "---\n"...), minimal...), 0o644); err != nil {
		t.Fatal(err)
	}
	one := runCLI(t, "", "render", multi)
	two := runCLI(t, "", "render", ex["minimal"], ex["seed"])
	if one.code != 0 || two.code != 0 {
		t.Fatalf("exit %d/%d: %s%s", one.code, two.code, one.stderr, two.stderr)
	}
	if one.stdout != two.stdout {
		t.Errorf("one multi-document file and two files render differently")
	}
	if n := strings.Count(one.stdout, "\nkind: Deployment\n"); n != 4 {
		t.Errorf("want 4 Deployments for two apps, got %d", n)
	}
}

func TestRenderOutputDir(t *testing.T) {
	for name, path := range examples(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			res := runCLI(t, "", "render", path, "--output-dir", dir)
			if res.code != 0 || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			golden(t, filepath.Join("dir", name+".txt"), dirListing(t, dir))

			// The files, concatenated in kustomization order, are the stream.
			stream := runCLI(t, "", "render", path).stdout
			if got := concatResources(t, dir); got != stream {
				t.Errorf("the files of --output-dir differ from the stream output")
			}
		})
	}
}

func TestRenderOutputDirRemovesStaleFilesOnly(t *testing.T) {
	full := examples(t)["full"]
	dir := t.TempDir()
	keep := filepath.Join(dir, "bgrender.yaml")
	if err := os.WriteFile(keep, []byte("# the user's own file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := runCLI(t, "", "render", full, "--output-dir", dir); res.code != 0 {
		t.Fatal(res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ingress-checkout-preview.yaml")); err != nil {
		t.Fatal(err)
	}
	// The user lists a file and a base of their own in bgrender's
	// kustomization.yaml: a later render keeps both, listed and on disk.
	mine := filepath.Join(dir, "configmap-extra.yaml")
	if err := os.WriteFile(mine, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kust := filepath.Join(dir, "kustomization.yaml")
	k, _ := os.ReadFile(kust)
	if err := os.WriteFile(kust, append(k, "- configmap-extra.yaml\n- ../base\nimages:\n- name: myapp\n  newTag: v9\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(full)
	noIngress := strings.Replace(string(data), "  ingress:\n", "  xingress:\n", 1)
	noIngress = strings.Split(noIngress, "  xingress:\n")[0] + "\n"
	if res := runCLI(t, noIngress, "render", "-", "--output-dir", dir); res.code != 0 {
		t.Fatal(res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ingress-checkout-preview.yaml")); !os.IsNotExist(err) {
		t.Errorf("the Ingress that is no longer rendered is still in the directory (err=%v)", err)
	}
	for _, f := range []string{keep, mine} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a file that bgrender did not write was removed: %v", err)
		}
	}
	k, _ = os.ReadFile(kust)
	if !strings.HasSuffix(string(k), "- configmap-extra.yaml\n- ../base\nimages:\n- name: myapp\n  newTag: v9\n") || strings.Contains(string(k), "ingress-checkout") {
		t.Errorf("kustomization.yaml does not keep the user's resources after bgrender's:\n%s", k)
	}
}

func TestRenderOutputDirRefusesForeignKustomization(t *testing.T) {
	dir := t.TempDir()
	foreign := []byte("resources: [mine.yaml]\n")
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "", "render", examples(t)["minimal"], "--output-dir", dir)
	if res.code != 2 || !strings.Contains(res.stderr, "did not write") {
		t.Fatalf("want exit 2 naming the foreign kustomization.yaml, got %d: %s", res.code, res.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); !bytes.Equal(got, foreign) {
		t.Errorf("the user's kustomization.yaml was overwritten")
	}
}

// TestRenderOutputDirKeepsUsersFiles: a file of the user's that has the
// name of a rendered one is not overwritten (exit 2), nor is a regular
// file taken for the directory; a directory that cannot be written names
// the file, not a temporary one.
func TestRenderOutputDirKeepsUsersFiles(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "serviceaccount-hello.yaml")
	if err := os.WriteFile(mine, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	minimal := examples(t)["minimal"]
	res := runCLI(t, "", "render", minimal, "--output-dir", dir)
	if res.code != 2 || !strings.Contains(res.stderr, "serviceaccount-hello.yaml, which bgrender did not write") {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if data, _ := os.ReadFile(mine); string(data) != "mine\n" {
		t.Fatal("the user's file was overwritten")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("a refused render wrote %d files", len(entries)-1)
	}
	res = runCLI(t, "", "render", minimal, "--output-dir", mine)
	if res.code != 2 || !strings.Contains(res.stderr, "is a file, not a directory") {
		t.Fatalf("output dir is a file: exit %d: %s", res.code, res.stderr)
	}
	if res := runCLI(t, "", "render", minimal, "--output-dir", ""); res.code != 2 {
		t.Fatalf("empty --output-dir: exit %d", res.code)
	}
}

// dirListing is a golden-friendly view of a directory: each file's name
// and content.
func dirListing(t *testing.T, dir string) []byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("=== " + n + "\n")
		b.Write(data)
	}
	return b.Bytes()
}

func concatResources(t *testing.T, dir string) string {
	t.Helper()
	k, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, line := range strings.Split(string(k), "\n") {
		if name, ok := strings.CutPrefix(line, "- "); ok {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(data))
		}
	}
	return strings.Join(docs, "---\n")
}

// TestSpecSizeLimit: a spec larger than spec.MaxFileSize is refused before it is
// decoded (decoding holds many times the input), from a file or stdin;
// and a spec with very many problems lists the first hundred and counts
// the rest.
func TestSpecSizeLimit(t *testing.T) {
	big := strings.Repeat("# padding\n", spec.MaxFileSize/10+1)
	res := runCLI(t, big, "validate", "-")
	if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "larger than 2 MiB") {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var many strings.Builder
	for i := range 150 {
		fmt.Fprintf(&many, "---\napiVersion: bgrender.io/v1alpha1\nkind: BlueGreenApp\nmetadata: {name: a%d}\nspec: {blue: {image: \"BAD\"}, green: {image: a}, ports: [{containerPort: 80}]}\n", i)
	}
	res = runCLI(t, many.String(), "validate", "-")
	if res.code != 2 || strings.Count(res.stderr, "\n") > 103 || !strings.Contains(res.stderr, "... and 50 more problems") {
		t.Fatalf("exit %d, %d lines: %s", res.code, strings.Count(res.stderr, "\n"), res.stderr[max(0, len(res.stderr)-300):])
	}
}

// TestRenderWarnsOfDefaultsThatDoNotFit: a LoadBalancer app without
// podCIDRs, and an Ingress class whose controller is not where the default
// looks, render (exit 0) with a located warning on stderr.
func TestRenderWarnsOfDefaultsThatDoNotFit(t *testing.T) {
	data, err := os.ReadFile("../../examples/seed/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	input := strings.Replace(string(data), "    podCIDRs: [10.244.0.0/16]\n", "    mode: standard\n", 1)
	input = strings.Replace(input, "className: nginx", "className: traefik", 1)
	for _, cmd := range []string{"render", "validate"} {
		res := runCLI(t, input, cmd, "-")
		if res.code != 0 || res.stdout == "" {
			t.Fatalf("%s: exit %d, stdout %d bytes; stderr:\n%s", cmd, res.code, len(res.stdout), res.stderr)
		}
		for _, want := range []string{"warning: <stdin>:", "spec.networkPolicy.podCIDRs: not set", `spec.ingress.className: "traefik"`} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, res.stderr)
			}
		}
	}
	if res := runCLI(t, string(data), "render", "-"); res.stderr != "" {
		t.Errorf("the seed example warns:\n%s", res.stderr)
	}
}
