package loop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bgrender/bgrender/internal/testbed/giteatest"
	"github.com/bgrender/bgrender/internal/testbed/helmtest"
	"github.com/bgrender/bgrender/internal/testbed/kubetest"
	"github.com/bgrender/bgrender/internal/testbed/loop"
	"github.com/bgrender/bgrender/internal/testbed/promtest"
)

const gitlabCI = "../../examples/ci/gitlab-ci.yml"

// gitlabJob holds the job keywords the example uses; decoding rejects any
// other, so a misspelt keyword (GitLab would reject it too) fails here.
type gitlabJob struct {
	Extends       string            `json:"extends,omitempty"`
	Stage         string            `json:"stage,omitempty"`
	Image         string            `json:"image,omitempty"`
	BeforeScript  []string          `json:"before_script,omitempty"`
	Script        []string          `json:"script,omitempty"`
	Variables     map[string]string `json:"variables,omitempty"`
	Rules         []gitlabRule      `json:"rules,omitempty"`
	Interruptible *bool             `json:"interruptible,omitempty"`
	ResourceGroup string            `json:"resource_group,omitempty"`
	Timeout       string            `json:"timeout,omitempty"`
	Artifacts     *struct {
		Reports struct {
			Dotenv string `json:"dotenv"`
		} `json:"reports"`
	} `json:"artifacts,omitempty"`
}

type gitlabRule struct {
	If string `json:"if"`
}

type gitlabPipeline struct {
	variables map[string]string
	stages    []string
	jobs      map[string]gitlabJob // visible jobs, with extends resolved
}

// decodeStrict decodes JSON into v, rejecting unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// readGitLabCI parses the example strictly (duplicate keys and unknown job
// keywords fail) and resolves each job's extends as GitLab does: the
// job's own keys win, variables are merged.
func readGitLabCI(t *testing.T) *gitlabPipeline {
	t.Helper()
	data, err := os.ReadFile(gitlabCI)
	if err != nil {
		t.Fatal(err)
	}
	js, err := sigsyaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", gitlabCI, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatalf("%s: %v", gitlabCI, err)
	}
	p := &gitlabPipeline{jobs: map[string]gitlabJob{}}
	all := map[string]gitlabJob{}
	for key, raw := range top {
		switch key {
		case "variables":
			err = decodeStrict(raw, &p.variables)
		case "stages":
			err = decodeStrict(raw, &p.stages)
		default:
			var j gitlabJob
			err = decodeStrict(raw, &j)
			all[key] = j
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", gitlabCI, key, err)
		}
	}
	for name, j := range all {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if j.Extends != "" {
			base, ok := all[j.Extends]
			if !ok {
				t.Fatalf("%s: job %s extends %s, which is not defined", gitlabCI, name, j.Extends)
			}
			j = extend(base, j)
		}
		if !slices.Contains(p.stages, j.Stage) {
			t.Fatalf("%s: job %s has stage %q, not one of %v", gitlabCI, name, j.Stage, p.stages)
		}
		if len(j.Script) == 0 {
			t.Fatalf("%s: job %s has no script", gitlabCI, name)
		}
		p.jobs[name] = j
	}
	return p
}

func extend(base, j gitlabJob) gitlabJob {
	out := base
	b, _ := json.Marshal(j)
	_ = json.Unmarshal(b, &out) // the job's keys over the base's
	out.Variables = map[string]string{}
	for k, v := range base.Variables {
		out.Variables[k] = v
	}
	for k, v := range j.Variables {
		out.Variables[k] = v
	}
	return out
}

var ruleEquals = regexp.MustCompile(`^\$(\w+) == \$(\w+)$`)

// runs evaluates a job's rules (the one form the example uses: $A == $B).
func (j gitlabJob) runs(t *testing.T, env map[string]string) bool {
	t.Helper()
	if len(j.Rules) == 0 {
		return true
	}
	for _, r := range j.Rules {
		m := ruleEquals.FindStringSubmatch(r.If)
		if m == nil {
			t.Fatalf("rule %q: this runner knows only $A == $B", r.If)
		}
		a, aok := env[m[1]]
		b, bok := env[m[2]]
		if aok && bok && a == b {
			return true
		}
	}
	return false
}

// gitlabRunner plays a GitLab runner with the bash shell: predefined
// variables, the file's variables (expanded), dotenv reports of earlier
// jobs, then the project's CI/CD variables (which win); File variables are
// written to a file whose path is the variable's value.
type gitlabRunner struct {
	t          *testing.T
	p          *gitlabPipeline
	projectDir string
	predefined map[string]string
	project    map[string]string // CI/CD variables set in the project
	files      map[string]string // File-type CI/CD variables: name -> content
	dotenv     map[string]string
	secrets    []string
	bin        string
}

func (r *gitlabRunner) env(name string, j gitlabJob) map[string]string {
	env := map[string]string{}
	for k, v := range r.predefined {
		env[k] = v
	}
	env["CI_JOB_NAME"] = name
	env["CI_JOB_STAGE"] = j.Stage
	expand := func(v string) string { return os.Expand(v, func(k string) string { return env[k] }) }
	for _, vars := range []map[string]string{r.p.variables, j.Variables} {
		for k, v := range vars {
			env[k] = expand(v)
		}
	}
	for k, v := range r.dotenv {
		env[k] = v
	}
	for k, v := range r.project {
		env[k] = v
	}
	for k, content := range r.files {
		path := filepath.Join(r.t.TempDir(), k)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			r.t.Fatal(err)
		}
		env[k] = path
	}
	return env
}

// run runs one job: before_script and script as one bash script with
// set -eo pipefail, as the runner's bash shell does, in CI_PROJECT_DIR.
// It returns the exit code and the job log.
func (r *gitlabRunner) run(ctx context.Context, name string) (int, string) {
	r.t.Helper()
	j := r.p.jobs[name]
	env := r.env(name, j)
	script := "set -eo pipefail\n" + strings.Join(append(append([]string{}, j.BeforeScript...), j.Script...), "\n") + "\n"
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = r.projectDir
	cmd.Env = []string{"PATH=" + filepath.Dir(r.bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + r.t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("job %s: %v", name, err)
	}
	r.t.Logf("job %s: exit %d after %.1fs\n%s", name, code, time.Since(start).Seconds(), log.String())
	for _, s := range r.secrets {
		if strings.Contains(log.String(), s) {
			r.t.Errorf("job %s printed a secret", name)
		}
	}
	if j.Artifacts != nil && j.Artifacts.Reports.Dotenv != "" && code == 0 {
		data, err := os.ReadFile(filepath.Join(r.projectDir, j.Artifacts.Reports.Dotenv))
		if err != nil {
			r.t.Fatalf("job %s: dotenv report: %v", name, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				r.t.Fatalf("job %s: dotenv report line %q", name, line)
			}
			r.dotenv[k] = v
		}
	}
	return code, log.String()
}

// TestGitLabPipeline runs the jobs of examples/ci/gitlab-ci.yml, stage by
// stage, as a GitLab runner would on a push to the default branch, against
// the loop bed: Flux applies the GitOps repository (Gitea), kwok runs the
// pods, Prometheus is real. A reviewer merges the promote job's merge
// request. The file's defaults point at gitlab.example.com; the project
// variables a user sets point at the bed instead.
func TestGitLabPipeline(t *testing.T) {
	t.Parallel() // it mostly waits; see main_test.go
	p := readGitLabCI(t)
	want := []string{"bgrender-deploy", "bgrender-promote", "bgrender-guard"}
	var order []string
	for _, st := range p.stages {
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range p.jobs {
				if !yield(n) {
					return
				}
			}
		}) {
			if p.jobs[name].Stage == st {
				order = append(order, name)
			}
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("jobs in stage order: %v, want %v", order, want)
	}

	// In a merge request pipeline (CI_MERGE_REQUEST_* set, no
	// CI_COMMIT_BRANCH) no job runs: releases come from the default branch.
	mr := map[string]string{"CI_DEFAULT_BRANCH": "main", "CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_PIPELINE_SOURCE": "merge_request_event"}
	for _, name := range want {
		if p.jobs[name].runs(t, mr) {
			t.Errorf("job %s would run in a merge request pipeline", name)
		}
	}

	pb := startPipelineBed(t, "gitlab")
	ctx, s, gitea, url, prom := pb.ctx, pb.s, pb.gitea, pb.url, pb.prom
	kubeconfig := pb.kubeconfig
	bed := s.bed
	sha := "0123456789abcdef0123456789abcdef01234567"
	r := &gitlabRunner{
		t: t, p: p, projectDir: t.TempDir(), bin: s.bin, dotenv: map[string]string{},
		predefined: map[string]string{
			"CI": "true", "GITLAB_CI": "true",
			"CI_COMMIT_SHA": sha, "CI_COMMIT_SHORT_SHA": sha[:8], "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main",
			"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push", "CI_PIPELINE_ID": "1001",
			"CI_PROJECT_NAME": "my-application", "CI_PROJECT_PATH": "example/my-application",
			"CI_REGISTRY_IMAGE": "registry.gitlab.example.com/example/my-application",
			"CI_SERVER_URL":     "https://gitlab.example.com",
		},
		project: map[string]string{
			"BGRENDER_GIT_TOKEN": gitea.Token,
			"GITOPS_REPO":        url,
			"GITOPS_FORGE":       "gitea",
			"PROMETHEUS_URL":     prom.URL,
			"GUARD_FOR":          "25s",
		},
		files:   map[string]string{"KUBECONFIG": string(kubeconfig)},
		secrets: []string{gitea.Token, kubeconfigToken(t, kubeconfig)},
	}
	r.predefined["CI_PROJECT_DIR"] = r.projectDir
	for _, name := range want {
		if !p.jobs[name].runs(t, r.env(name, p.jobs[name])) {
			t.Fatalf("job %s does not run on a push to the default branch", name)
		}
	}

	// deploy: green runs the pipeline's image, rolled out.
	if code, _ := r.run(ctx, "bgrender-deploy"); code != 0 {
		t.Fatalf("bgrender-deploy: exit %d", code)
	}
	if r.dotenv["DEPLOYED_COLOR"] != "green" {
		t.Fatalf("the deploy job passed on DEPLOYED_COLOR=%q, want green", r.dotenv["DEPLOYED_COLOR"])
	}
	image := r.predefined["CI_REGISTRY_IMAGE"] + ":" + sha
	d, err := bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, app+"-green", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != image || d.Status.AvailableReplicas != 3 {
		t.Fatalf("after the deploy job green runs %s with %d available, want %s with 3", got, d.Status.AvailableReplicas, image)
	}

	// promote: a merge request a reviewer merges; the job returns when the
	// active Service serves green.
	go mergeWhenOpen(ctx, t, gitea, "gitops")
	code, log := r.run(ctx, "bgrender-promote")
	if code != 0 {
		t.Fatalf("bgrender-promote: exit %d", code)
	}
	if !strings.Contains(log, "serves green, 3 ready endpoints") {
		t.Errorf("the promote job did not report green live")
	}
	if colors, err := s.endpointColors(ctx, app); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("after the promote job the active Service served %v (%v)", colors, err)
	}

	// A retried promote job is a no-op: it flips to DEPLOYED_COLOR again.
	if code, _ := r.run(ctx, "bgrender-promote"); code != 0 {
		t.Fatalf("bgrender-promote, retried: exit %d", code)
	}
	if colors, err := s.endpointColors(ctx, app); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("after the retried promote job the active Service served %v (%v)", colors, err)
	}

	// guard: green stays healthy for GUARD_FOR; exit 0, no rollback.
	if code, _ := r.run(ctx, "bgrender-guard"); code != 0 {
		t.Fatalf("bgrender-guard: exit %d", code)
	}
	if colors, err := s.endpointColors(ctx, app); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		t.Errorf("after the guard job the active Service served %v (%v)", colors, err)
	}
}

// pipelineBed is what a CI pipeline's jobs run against: the loop bed with
// Flux applying a managed folder of the article's app from Gitea (green
// idle, blue live), and a real Prometheus scraping a healthy error rate
// for both colors.
type pipelineBed struct {
	ctx        context.Context
	s          *story
	gitea      *giteatest.Server
	url        string
	prom       *promtest.Server
	kubeconfig []byte
}

func startPipelineBed(t *testing.T, nsBase string) *pipelineBed {
	t.Helper()
	bed := loop.Require(t, loop.Flux)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	s := &story{t: t, bed: bed, bin: helmtest.BuildBgrender(t), kubeconfig: bed.KubeconfigPath(), start: time.Now()}
	s.ns = bed.NewNamespace(t, ctx, nsBase, nil)
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := s.managedFolder(ctx, root, "")
	gitea := giteatest.Start(t)
	url := gitea.CreateRepo(t, "gitops", work)
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "gitrepository.yaml", "url: https://git.example.com/ops/gitops.git", "url: "+url, "interval: 1m", "interval: 5s")); err != nil {
		t.Fatal(err)
	}
	if err := bed.ApplyYAML(ctx, loop.FluxExample(t, "kustomization-my-application.yaml")); err != nil {
		t.Fatal(err)
	}
	s.waitServes(ctx, app, "blue", 3)

	exp := promtest.NewExporter()
	series := `http_requests_total{app_kubernetes_io_name="` + app + `",version="%s",code="%s"}`
	for _, c := range []string{"blue", "green"} {
		exp.SetRate(fmt.Sprintf(series, c, "200"), 100)
		exp.SetRate(fmt.Sprintf(series, c, "500"), 0.1)
	}
	prom := promtest.Start(t, exp)
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	prom.WaitFor(t, waitCtx, `rate(http_requests_total{app_kubernetes_io_name="`+app+`"}[5s])`)
	waitCancel()
	kubeconfig, err := os.ReadFile(bed.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	return &pipelineBed{ctx: ctx, s: s, gitea: gitea, url: url, prom: prom, kubeconfig: kubeconfig}
}

// checkGreenLive fails the test unless the active Service serves only
// green's 3 pods.
func (pb *pipelineBed) checkGreenLive(when string) {
	pb.s.t.Helper()
	if colors, err := pb.s.endpointColors(pb.ctx, app); err != nil || !slices.Equal(colors, []string{"green", "green", "green"}) {
		pb.s.t.Errorf("%s the active Service served %v (%v)", when, colors, err)
	}
}
