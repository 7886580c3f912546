package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/gittest"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/render"
	"github.com/bgrender/bgrender/spec"
)

// contractSpec is the seed's spec with an expand and a contract migration.
const contractSpec = "  migrations:\n    expand:\n      command: [/app/migrate, up]\n    contract:\n      command: [/app/migrate, contract]\n"

// newContractRepo serves a managed folder with spec.migrations, green
// live on myapp:v2 and blue still on the seed's myapp:v1.2.3.
func newContractRepo(t *testing.T) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	dir := filepath.Join(seed, filepath.FromSlash(appPath))
	writeManaged(t, dir, "my-application")
	data, err := os.ReadFile(filepath.Join(dir, promote.SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, contractSpec...)
	if err := os.WriteFile(filepath.Join(dir, promote.SpecFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	apps, err := spec.Load(promote.SpecFile, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(dir, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	r := &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
	r.mustRun(t, "deploy", "--image", "myapp:v2")
	r.mustRun(t, "promote", "--no-spec-gates") // no cluster here to read the expand Job
	return r
}

// TestContract: contract refuses while the old color runs (exit 3,
// nothing committed), commits the contract Job and its record once the
// old color is retired, is a no-op the second time; after it, a flip to
// the retired image is refused (exit 3, naming the contract) unless
// --force.
func TestContract(t *testing.T) {
	r := newContractRepo(t)
	before := r.commits(t)
	res := r.run(t, "contract")
	if res.code != 3 || res.stdout != "" || !strings.Contains(res.stderr, "blue still runs myapp:v1.2.3 on 3 replicas: a contract for myapp:v2 drops what older versions read") || r.commits(t) != before {
		t.Fatalf("contract with blue running: exit %d, %d commits (want %d)\nstdout: %s\nstderr: %s", res.code, r.commits(t), before, res.stdout, res.stderr)
	}

	r.mustRun(t, "scale-idle", "--replicas", "0")
	before = r.commits(t)
	dry := r.mustRun(t, "contract", "--dry-run")
	if r.commits(t) != before || !strings.Contains(dry.stdout, "+    contracted:") || !strings.Contains(dry.stdout, "kind: Job") {
		t.Errorf("contract --dry-run: %d commits (want %d):\n%s", r.commits(t), before, dry.stdout)
	}
	res = r.mustRun(t, "contract", "-o", "json")
	var out struct{ Action, Image, Commit string }
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || out.Action != "contract" || out.Image != "myapp:v2" || out.Commit == "" {
		t.Fatalf("contract -o json: %v %+v\n%s", err, out, res.stdout)
	}
	r.checkTrailers(t, map[string]string{"Bgrender-Action": "contract", "Bgrender-Image": "myapp:v2"})
	golden(t, "gitops/contract.diff", []byte(r.lastDiff(t)))

	before = r.commits(t)
	if again := r.mustRun(t, "contract"); r.commits(t) != before || !strings.Contains(again.stdout+again.stderr, "already contracted for myapp:v2") {
		t.Errorf("a second contract: %d commits (want %d)\n%s%s", r.commits(t), before, again.stdout, again.stderr)
	}

	// Blue scaled up again still runs v1.2.3: no flip goes there.
	r.mustRun(t, "scale-idle", "--replicas", "3")
	before = r.commits(t)
	for _, args := range [][]string{{"rollback"}, {"promote", "--to", "blue", "--no-spec-gates"}, {"promote", "--no-spec-gates"}} {
		res := r.run(t, args...)
		if res.code != 3 || res.stdout != "" || !strings.Contains(res.stderr, "blue runs myapp:v1.2.3, which predates the contract of my-application's schema for myapp:v2 (spec.migrations.contracted, Job my-application-contract-") {
			t.Errorf("%v past the contract: exit %d\n%s", args, res.code, res.stderr)
		}
	}
	if r.commits(t) != before {
		t.Errorf("refused flips committed: %d commits, want %d", r.commits(t), before)
	}
	// A newer image on blue is no image the contract retired.
	r.mustRun(t, "deploy", "--image", "myapp:v3")
	r.mustRun(t, "promote", "--to", "blue", "--no-spec-gates")
	r.mustRun(t, "rollback", "--force") // back to green's v2: the contracted image
	if !strings.Contains(r.file(t, promote.SpecFile), "active: green") {
		t.Errorf("rollback --force did not go back to green:\n%s", r.file(t, promote.SpecFile))
	}
}

// TestContractBadInput: a folder without spec.migrations.contract, or a
// plain folder, is exit 2 with nothing committed.
func TestContractBadInput(t *testing.T) {
	for _, layout := range []string{"managed", "plain"} {
		t.Run(layout, func(t *testing.T) {
			r := newGitopsRepo(t, layout, 0)
			before := r.commits(t)
			res := r.run(t, "contract")
			want := "spec.migrations.contract is not set"
			if layout == "plain" {
				want = "contract runs spec.migrations.contract of a bgrender-managed folder"
			}
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, want) || r.commits(t) != before {
				t.Errorf("exit %d, %d commits (want %d)\nstdout: %s\nstderr: %s", res.code, r.commits(t), before, res.stdout, res.stderr)
			}
		})
	}
	if res := runCLI(t, "", "contract", "--repo", "https://git.example.com/x.git", "--path", "a", "--wait", "--dry-run"); res.code != 2 || !strings.Contains(res.stderr, "--wait acts on a pushed contract") {
		t.Errorf("--wait --dry-run: exit %d\n%s", res.code, res.stderr)
	}
}

// newContractedRepoIn serves a managed folder in namespace ns whose blue
// (live) runs myapp:v2, contracted for, and green the myapp:v1.2.3 that
// the contract retired.
func newContractedRepoIn(t *testing.T, ns string) *gitopsRepo {
	t.Helper()
	srv := gittest.NewServer(t, gittest.WithToken(gitToken))
	seed := t.TempDir()
	dir := filepath.Join(seed, filepath.FromSlash(appPath))
	writeLayoutIn(t, dir, "managed", ns)
	data, err := os.ReadFile(filepath.Join(dir, promote.SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "image: myapp:v1.2.3", "image: myapp:v2", 1) + contractSpec +
		"    contracted: {image: myapp:v2, retired: [myapp:v1.2.3]}\n"
	apps, err := spec.Load(promote.SpecFile, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if apps[0].Spec.Blue.Image != "myapp:v2" || apps[0].Spec.Active != spec.Blue {
		t.Fatalf("the seed changed: blue %s, active %s", apps[0].Spec.Blue.Image, apps[0].Spec.Active)
	}
	if err := os.WriteFile(filepath.Join(dir, promote.SpecFile), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := render.WriteDir(dir, render.Render(apps)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BGRENDER_GIT_TOKEN", gitToken)
	return &gitopsRepo{srv: srv, url: srv.CreateRepo(t, "gitops", seed), name: "gitops"}
}
