package loop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

const githubWorkflow = "../../examples/ci/github-actions.yaml"

// ghJob and ghStep hold the workflow keys the example uses; decoding
// rejects any other, so that this runner never skips a key it does not
// understand. (actionlint, in e2e/ci_test.go, judges the workflow's
// syntax and types as GitHub does.)
type ghJob struct {
	RunsOn         string            `json:"runs-on"`
	TimeoutMinutes int               `json:"timeout-minutes"`
	Needs          string            `json:"needs,omitempty"`
	Outputs        map[string]string `json:"outputs,omitempty"`
	Steps          []ghStep          `json:"steps"`
}

type ghStep struct {
	Name string            `json:"name,omitempty"`
	ID   string            `json:"id,omitempty"`
	Uses string            `json:"uses,omitempty"`
	With map[string]any    `json:"with,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	Run  string            `json:"run,omitempty"`
}

var ghExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// githubRunner plays GitHub's runner for the workflow's run steps: bash -e
// on the step's script (GitHub's default shell on Linux), the workflow's
// and the step's env with their ${{ }} expressions evaluated, GITHUB_OUTPUT
// read back into steps.<id>.outputs and the job's outputs. Steps that
// use an action (actions/setup-go) are not run: the runner's PATH already
// has the bgrender built from this tree, which the install step then
// leaves alone.
type githubRunner struct {
	t          *testing.T
	env        map[string]string // the workflow's env
	jobs       map[string]ghJob
	inputs     map[string]string
	secrets    map[string]string
	outputs    map[string]map[string]string // job -> outputs
	bin        string
	predefined map[string]string
}

func readGitHubWorkflow(t *testing.T, replace ...string) (map[string]string, map[string]ghJob) {
	t.Helper()
	data, err := os.ReadFile(githubWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for i := 0; i+1 < len(replace); i += 2 {
		if n := strings.Count(text, replace[i]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once", githubWorkflow, replace[i], n)
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	js, err := sigsyaml.YAMLToJSONStrict([]byte(text))
	if err != nil {
		t.Fatalf("%s: %v", githubWorkflow, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	jobs := map[string]ghJob{}
	if err := decodeStrict(top["env"], &env); err != nil {
		t.Fatalf("%s: env: %v", githubWorkflow, err)
	}
	var rawJobs map[string]json.RawMessage
	if err := json.Unmarshal(top["jobs"], &rawJobs); err != nil {
		t.Fatal(err)
	}
	for name, raw := range rawJobs {
		var j ghJob
		if err := decodeStrict(raw, &j); err != nil {
			t.Fatalf("%s: jobs.%s: %v", githubWorkflow, name, err)
		}
		jobs[name] = j
	}
	return env, jobs
}

// eval replaces the ${{ }} expressions the example uses; any other fails
// the test rather than being passed on unevaluated.
func (r *githubRunner) eval(s string, steps map[string]map[string]string) string {
	r.t.Helper()
	return ghExpr.ReplaceAllStringFunc(s, func(m string) string {
		expr := ghExpr.FindStringSubmatch(m)[1]
		parts := strings.Split(expr, ".")
		var v string
		ok := false
		switch {
		case len(parts) == 2 && parts[0] == "secrets":
			v, ok = r.secrets[parts[1]]
		case len(parts) == 2 && parts[0] == "inputs":
			v, ok = r.inputs[parts[1]]
		case expr == "runner.temp":
			v, ok = r.predefined["RUNNER_TEMP"], true
		case len(parts) == 4 && parts[0] == "needs" && parts[2] == "outputs":
			v, ok = r.outputs[parts[1]][parts[3]]
		case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
			v, ok = steps[parts[1]][parts[3]]
		}
		if !ok {
			r.t.Fatalf("expression %q: this runner cannot evaluate it (or it names nothing)", expr)
		}
		return v
	})
}

// run runs one job on a fresh workspace and returns its log and whether
// every step succeeded.
func (r *githubRunner) run(ctx context.Context, name string) (string, bool) {
	r.t.Helper()
	j, ok := r.jobs[name]
	if !ok {
		r.t.Fatalf("no job %s", name)
	}
	if j.Needs != "" && r.outputs[j.Needs] == nil {
		r.t.Fatalf("job %s needs %s, which has not run", name, j.Needs)
	}
	workspace, temp := r.t.TempDir(), r.t.TempDir()
	r.predefined["GITHUB_WORKSPACE"], r.predefined["RUNNER_TEMP"] = workspace, temp
	steps := map[string]map[string]string{}
	var log bytes.Buffer
	start := time.Now()
	for i, st := range j.Steps {
		if st.Uses != "" {
			if st.Run != "" {
				r.t.Fatalf("job %s step %d: both uses and run", name, i)
			}
			continue
		}
		out := filepath.Join(temp, "output-"+strconv.Itoa(i))
		if err := os.WriteFile(out, nil, 0o644); err != nil {
			r.t.Fatal(err)
		}
		script := filepath.Join(temp, "step.sh")
		if err := os.WriteFile(script, []byte(st.Run), 0o644); err != nil {
			r.t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, "bash", "-e", script)
		cmd.Dir = workspace
		cmd.Env = []string{"PATH=" + filepath.Dir(r.bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + r.t.TempDir(), "GITHUB_OUTPUT=" + out}
		for k, v := range r.predefined {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		for _, env := range []map[string]string{r.env, st.Env} {
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+r.eval(v, steps))
			}
		}
		cmd.Stdout, cmd.Stderr = &log, &log
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); !ok && err != nil {
			r.t.Fatalf("job %s step %q: %v", name, st.Name, err)
		}
		if err != nil {
			r.t.Logf("job %s: step %q failed after %.1fs\n%s", name, st.Name, time.Since(start).Seconds(), log.String())
			return log.String(), false
		}
		if st.ID != "" {
			steps[st.ID] = readOutputs(r.t, out)
		}
	}
	r.outputs[name] = map[string]string{}
	for k, v := range j.Outputs {
		r.outputs[name][k] = r.eval(v, steps)
	}
	r.t.Logf("job %s: succeeded after %.1fs\n%s", name, time.Since(start).Seconds(), log.String())
	return log.String(), true
}

// readOutputs reads a GITHUB_OUTPUT file of name=value lines.
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %q: want name=value", line)
		}
		out[k] = v
	}
	return out
}

// kubeconfigToken is the bearer token of a kubeconfig, a secret the job
// logs must not show.
func kubeconfigToken(t *testing.T, kubeconfig []byte) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*token:\s*(\S+)`).FindSubmatch(kubeconfig)
	if m == nil {
		t.Fatal("the bed's kubeconfig has no token")
	}
	return string(m[1])
}

// TestGitHubWorkflow runs the run steps of examples/ci/github-actions.yaml,
// job by job in needs order, as GitHub's runner would for a
// workflow_dispatch with an image, against the loop bed: Flux applies the
// GitOps repository (Gitea), kwok runs the pods, Prometheus is real, and
// a reviewer merges the promote job's pull request. The file names
// github.com and a 10-minute guard; the test points those at the bed
// (the GitHub forge client is tested against GitHub's REST API elsewhere).
func TestGitHubWorkflow(t *testing.T) {
	pb := startPipelineBed(t, "github")
	ctx, s := pb.ctx, pb.s
	env, jobs := readGitHubWorkflow(t,
		"GITOPS_REPO: https://github.com/example/gitops.git", "GITOPS_REPO: "+pb.url,
		"PROMETHEUS_URL: http://prometheus.monitoring:9090", "PROMETHEUS_URL: "+pb.prom.URL,
		"--forge github", "--forge gitea",
		"--for 10m", "--for 25s",
	)
	var order []string
	for len(order) < len(jobs) {
		n := len(order)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range jobs {
				if !yield(k) {
					return
				}
			}
		}) {
			j := jobs[name]
			if !slices.Contains(order, name) && (j.Needs == "" || slices.Contains(order, j.Needs)) {
				order = append(order, name)
			}
		}
		if len(order) == n {
			t.Fatalf("jobs' needs form a cycle: %v", jobs)
		}
	}
	if want := []string{"deploy", "promote", "guard"}; !slices.Equal(order, want) {
		t.Fatalf("jobs in needs order: %v, want %v", order, want)
	}
	token := pb.gitea.Token
	image := "ghcr.io/example/my-application:0123456789abcdef0123456789abcdef01234567"
	r := &githubRunner{
		t: t, env: env, jobs: jobs, bin: s.bin,
		inputs:  map[string]string{"image": image},
		secrets: map[string]string{"GITOPS_TOKEN": token, "KUBECONFIG_DATA": string(pb.kubeconfig)},
		outputs: map[string]map[string]string{},
		predefined: map[string]string{
			"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "workflow_dispatch",
			"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/heads/main",
			"GITHUB_REPOSITORY": "example/my-application", "RUNNER_OS": "Linux",
		},
	}
	secrets := []string{token, kubeconfigToken(t, pb.kubeconfig)}
	logs := map[string]string{}
	for _, name := range order {
		if name == "promote" {
			go mergeWhenOpen(ctx, t, pb.gitea, "gitops")
		}
		log, ok := r.run(ctx, name)
		logs[name] = log
		if !ok {
			t.Fatalf("job %s failed", name)
		}
		for _, sec := range secrets {
			if strings.Contains(log, sec) {
				t.Errorf("job %s printed a secret", name)
			}
		}
		switch name {
		case "deploy":
			if got := r.outputs["deploy"]["color"]; got != "green" {
				t.Fatalf("the deploy job's output color = %q, want green", got)
			}
			d, err := s.bed.Clientset().AppsV1().Deployments(s.ns).Get(ctx, app+"-green", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Spec.Template.Spec.Containers[0].Image; got != image || d.Status.AvailableReplicas != 3 {
				t.Fatalf("after the deploy job green runs %s with %d available, want %s with 3", got, d.Status.AvailableReplicas, image)
			}
		case "promote":
			if !strings.Contains(log, "serves green, 3 ready endpoints") {
				t.Errorf("the promote job did not report green live")
			}
			pb.checkGreenLive("after the promote job")
		case "guard":
			pb.checkGreenLive("after the guard job")
		}
	}
	// The kubeconfig file each job wrote is readable by its user only.
	info, err := os.Stat(filepath.Join(r.predefined["RUNNER_TEMP"], "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("the guard job's kubeconfig has mode %v; want 0600", info.Mode().Perm())
	}
}
