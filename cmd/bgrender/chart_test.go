package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/promote"
)

const chartAppPath = "apps/web"

// chartRepo is a GitOps repository on a real Git server whose app folder
// apps/web is not there yet, beside a file of the user's in it once made.
type chartRepo struct {
	*gitopsRepo
}

func newChartRepo(t *testing.T) *chartRepo {
	t.Helper()
	t.Setenv(EnvChartRenderer, helmtest.BuildChartRenderer(t))
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	writeOutside(t, seed, 3)
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &chartRepo{&gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}}
}

func (r *chartRepo) run(t *testing.T, args ...string) result {
	t.Helper()
	res := runCLI(t, "", append(args, "--repo", r.url, "--path", chartAppPath)...)
	if strings.Contains(res.stdout+res.stderr, gitToken) {
		t.Fatalf("bgrender %v printed the token", args)
	}
	return res
}

func (r *chartRepo) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	res := r.run(t, args...)
	if res.code != 0 {
		t.Fatalf("bgrender %v: exit %d\nstdout: %s\nstderr: %s", args, res.code, res.stdout, res.stderr)
	}
	return res
}

func (r *chartRepo) file(t *testing.T, name string) string {
	t.Helper()
	return r.git(t, "show", "main:"+chartAppPath+"/"+name)
}

func (r *chartRepo) manifests(t *testing.T) string { return r.file(t, promote.ChartFile) }

// chartVersions writes the example chart web twice: 0.1.0 as it is, and
// 0.2.0 with a new image tag in its values.yaml.
func chartVersions(t *testing.T) (v1, v2 string) {
	t.Helper()
	dir := t.TempDir()
	v1, v2 = filepath.Join(dir, "v1", "web"), filepath.Join(dir, "v2", "web")
	for _, d := range []string{v1, v2} {
		copyDir(t, filepath.Join(examplesDir, "charts", "web"), d)
	}
	editFile(t, filepath.Join(v2, "Chart.yaml"), "version: 0.1.0", "version: 0.2.0")
	editFile(t, filepath.Join(v2, "values.yaml"), `tag: "1.25.0"`, `tag: "1.26.0"`)
	return v1, v2
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// document returns the document of a stream that holds kind and name, or
// "" when none does.
func document(stream, kind, name string) string {
	for _, d := range strings.Split(stream, "\n---\n") {
		if strings.Contains(d, "\nkind: "+kind+"\n") && strings.Contains(d, "\n  name: "+name+"\n") {
			return d
		}
	}
	return ""
}

// TestDeployChart takes the example chart web through the cycle on a real
// Git server: the first deploy --chart renders both colors (what helm
// template and bgrender postrender give, byte for byte), promote flips to
// green, the next chart version goes to blue while green's Deployment
// stays byte for byte, a re-run commits nothing, and promote and rollback
// work on the folder. A file of the user's in the folder stays.
func TestDeployChart(t *testing.T) {
	helm := helmtest.Require(t, 3)
	r := newChartRepo(t)
	v1, v2 := chartVersions(t)

	res := r.mustRun(t, "deploy", "--chart", v1, "--release-name", "web")
	if want := "deploy web: render chart " + v1 + " on both colors (first deploy); committed"; !strings.HasPrefix(res.stdout, want) {
		t.Fatalf("stdout %q, want it to start with %q", res.stdout, want)
	}
	first := r.manifests(t)
	tmpl, stderr, err := helm.Template(context.Background(), v1, "--name-template", "web")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr)
	}
	post := runCLI(t, tmpl, "postrender")
	if post.code != 0 {
		t.Fatalf("postrender: %s", post.stderr)
	}
	header, body, _ := strings.Cut(first, "\n")
	if !strings.HasPrefix(header, "# Written by bgrender deploy --chart") || body != strings.TrimRight(post.stdout, "\n") { // git show drops the last newline
		t.Fatalf("%s is not bgrender's header and helm template | bgrender postrender:\n%s\n--- want\n%s", promote.ChartFile, first, post.stdout)
	}

	// A file of the user's, committed beside the render, stays.
	clone := r.srv.Clone(t, r.name)
	userFile := filepath.Join(clone, chartAppPath, "config.yaml")
	userData := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config # the user's\ndata: {greeting: hello}\n"
	if err := os.WriteFile(userFile, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, r.srv.RepoDir(r.name), clone, "add the user's config")

	r.mustRun(t, "promote")
	if sel := document(r.manifests(t), "Service", "web"); !strings.Contains(sel, "bgrender.io/color: green") {
		t.Fatalf("promote did not flip the Service to green:\n%s", sel)
	}
	green := document(r.manifests(t), "Deployment", "web-green")
	commits := r.commits(t)

	res = r.mustRun(t, "deploy", "--chart", v2, "--release-name", "web")
	if !strings.Contains(res.stdout, "render chart "+v2+" on blue; committed") {
		t.Fatalf("stdout %q", res.stdout)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-From": "green", "Bgrender-To": "blue", "Bgrender-Image": "nginxinc/nginx-unprivileged:1.26.0"})
	second := r.manifests(t)
	if got := document(second, "Deployment", "web-green"); got != green {
		t.Fatalf("the live color's Deployment changed:\n%s\n--- was\n%s", got, green)
	}
	if blue := document(second, "Deployment", "web-blue"); !strings.Contains(blue, "nginx-unprivileged:1.26.0") {
		t.Fatalf("blue does not run the new render:\n%s", blue)
	}
	if svc := document(second, "Service", "web"); !strings.Contains(svc, "bgrender.io/color: green") {
		t.Fatalf("the Service left the live color:\n%s", svc)
	}
	if pv := document(second, "Service", "web-preview"); !strings.Contains(pv, "bgrender.io/color: blue") {
		t.Fatalf("the preview Service does not select the new render:\n%s", pv)
	}
	if got := r.file(t, "config.yaml"); got != strings.TrimRight(userData, "\n") {
		t.Fatalf("the user's file changed:\n%s", got)
	}
	if files := r.changedFiles(t); strings.Join(files, " ") != chartAppPath+"/"+promote.ChartFile {
		t.Fatalf("the deploy changed %v", files)
	}
	// The reviewer's diff: the idle color's image and the preview
	// Service's color record, nothing of the live color.
	golden(t, "gitops/chart-deploy.diff", []byte(r.lastDiff(t)))

	res = r.mustRun(t, "deploy", "--chart", v2, "--release-name", "web")
	if !strings.Contains(res.stdout, "nothing to do") || r.commits(t) != commits+1 {
		t.Fatalf("a re-run committed (%d commits, want %d): %s", r.commits(t), commits+1, res.stdout)
	}

	r.mustRun(t, "promote")
	r.mustRun(t, "rollback")
	if svc := document(r.manifests(t), "Service", "web"); !strings.Contains(svc, "bgrender.io/color: green") {
		t.Fatalf("rollback did not flip back to green:\n%s", svc)
	}
}

// Refusals of deploy --chart are exit 2 with what is wrong, nothing on
// stdout, nothing committed.
func TestDeployChartBadInput(t *testing.T) {
	r := newChartRepo(t)
	v1, _ := chartVersions(t)
	bad := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(bad, []byte("replicas: 2\nimage:\n  tag: [1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := r.commits(t)
	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"missing chart":         {[]string{"--chart", filepath.Join(t.TempDir(), "nope")}, []string{"nope"}},
		"bad values file":       {[]string{"--chart", v1, "-f", bad}, []string{bad + ":3: invalid YAML"}},
		"missing values file":   {[]string{"--chart", v1, "-f", bad + ".none"}, []string{bad + ".none"}},
		"chart and image":       {[]string{"--chart", v1, "--image", "web:2"}, []string{"--image does not go with --chart"}},
		"version without":       {[]string{"--image", "web:2", "--version", "1.0.0"}, []string{"--version needs --chart"}},
		"bad postrender config": {[]string{"--chart", v1, "--postrender-config", bad}, []string{bad}},
	} {
		t.Run(name, func(t *testing.T) {
			res := r.run(t, append([]string{"deploy"}, tc.args...)...)
			if res.code != 2 || res.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %s; want exit 2 and nothing on stdout", res.code, res.stdout, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr %q does not name %q", res.stderr, w)
				}
			}
		})
	}

	// What is in the folder beside the render: each refused, exit 2.
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"the user's manifests.yaml": {map[string]string{promote.ChartFile: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n"}, "bgrender did not write it"},
		"kustomization without it":  {map[string]string{"kustomization.yaml": "resources: [config.yaml]\n", "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n"}, "kustomization.yaml does not list manifests.yaml"},
		"an object of the chart's":  {map[string]string{"extra/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"}, "extra/service.yaml: Service web is also in the chart's render"},
	} {
		t.Run(name, func(t *testing.T) {
			r.commitFolder(t, tc.files)
			before := r.commits(t)
			res := r.run(t, "deploy", "--chart", v1)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %s; want exit 2 saying %q", res.code, res.stdout, res.stderr, tc.want)
			}
			if got := r.commits(t); got != before {
				t.Fatalf("%d commits, want %d: a refusal committed", got, before)
			}
		})
	}
	if got := r.commits(t); got != before+3 {
		t.Fatalf("%d commits, want the test's own %d", got, before+3)
	}
}

// commitFolder replaces the app folder with files, as a commit of the
// user's.
func (r *chartRepo) commitFolder(t *testing.T, files map[string]string) {
	t.Helper()
	work := r.srv.Clone(t, r.name)
	if err := os.RemoveAll(filepath.Join(work, chartAppPath)); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(work, chartAppPath, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(work, ".git")); err != nil {
		t.Fatal(err)
	}
	gittest.Commit(t, r.srv.RepoDir(r.name), work, "the user's app folder")
}

// postrender --from-dir and --from-file read the previous output from
// disk, for pipelines that run helm template themselves: the live color
// keeps its Deployment, the idle one gets the new render.
func TestPostrenderFromDir(t *testing.T) {
	helm := helmtest.Require(t, 3)
	v1, v2 := chartVersions(t)
	render := func(chart string) string {
		out, stderr, err := helm.Template(context.Background(), chart, "--name-template", "web")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, stderr)
		}
		return out
	}
	first := runCLI(t, render(v1), "postrender", "--active", "green")
	if first.code != 0 {
		t.Fatalf("postrender: %s", first.stderr)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "manifests.yaml")
	if err := os.WriteFile(file, []byte(first.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, args := range [][]string{{"--from-dir", dir}, {"--from-file", file}} {
		res := runCLI(t, render(v2), append([]string{"postrender"}, args...)...)
		if res.code != 0 {
			t.Fatalf("postrender %v: exit %d: %s", args, res.code, res.stderr)
		}
		if got, want := document(res.stdout, "Deployment", "web-green"), document(first.stdout, "Deployment", "web-green"); got != want || got == "" {
			t.Fatalf("postrender %v changed the live green Deployment:\n%s\n--- was\n%s", args, got, want)
		}
		if !strings.Contains(document(res.stdout, "Deployment", "web-blue"), "nginx-unprivileged:1.26.0") {
			t.Fatalf("postrender %v: blue does not run the new render", args)
		}
		outs = append(outs, res.stdout)
	}
	if outs[0] != outs[1] {
		t.Fatalf("--from-dir and --from-file differ")
	}
	for _, args := range [][]string{{"--from-dir", file}, {"--from-file", dir}, {"--from-dir", dir, "--from-release", "web"}, {"--from-dir", filepath.Join(dir, "none")}} {
		res := runCLI(t, render(v2), append([]string{"postrender"}, args...)...)
		if res.code != 2 || res.stdout != "" {
			t.Errorf("postrender %v: exit %d, stdout %d bytes; want exit 2 and nothing", args, res.code, len(res.stdout))
		}
	}
}
