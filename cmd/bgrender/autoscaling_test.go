package main

import (
	"strings"
	"testing"

	"github.com/bgrender/bgrender/promote"
)

// TestAutoscaledAppFolder runs the GitOps actions on an app folder with
// spec.autoscaling, against a real Git server: scale-idle sets the idle
// color's HPA floor (0 is refused, nothing committed), the Deployments
// are committed without replicas, and a promote swaps the floors of the
// two HPAs with the colors.
func TestAutoscaledAppFolder(t *testing.T) {
	r := newGitopsRepo(t, "managed", 0)
	s := r.file(t, promote.SpecFile)
	if !strings.Contains(s, "\n  replicas: 3\n") {
		t.Fatalf("the seed spec changed:\n%s", s)
	}
	// The seed's quota holds both colors at 5 with a surge of 2, not 5.
	s = strings.Replace(s, "\n  maxSurge: 100%", "\n  maxSurge: 25%", 1)
	r.commitFile(t, promote.SpecFile, strings.Replace(s, "\n  replicas: 3\n", "\n  autoscaling:\n    minReplicas: 3\n    maxReplicas: 5\n", 1))
	hpaMin := func(c string) string {
		hpa := r.file(t, "horizontalpodautoscaler-my-application-"+c+".yaml")
		_, rest, _ := strings.Cut(hpa, "\n  minReplicas: ")
		n, _, _ := strings.Cut(rest, "\n")
		return n
	}

	before := r.commits(t)
	res := r.run(t, "scale-idle", "--replicas", "0")
	if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "cannot scale to 0 (minReplicas 0 needs the HPAScaleToZero feature gate)") {
		t.Errorf("scale-idle --replicas 0: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if r.commits(t) != before {
		t.Errorf("a refused scale-idle committed")
	}

	r.mustRun(t, "scale-idle", "--replicas", "2")
	if s := r.file(t, promote.SpecFile); !strings.Contains(s, "idleMinReplicas: 2") || strings.Contains(s, "idleReplicas") {
		t.Errorf("bgrender.yaml after scale-idle:\n%s", s)
	}
	if b, g := hpaMin("blue"), hpaMin("green"); b != "3" || g != "2" {
		t.Errorf("HPA floors blue %s, green %s; want 3 (live) and 2 (idle)", b, g)
	}
	for _, c := range []string{"blue", "green"} {
		if d := r.file(t, "deployment-my-application-"+c+".yaml"); strings.Contains(d, "\n  replicas:") {
			t.Errorf("the %s Deployment was committed with replicas:\n%s", c, d)
		}
	}

	// The autoscalers make promote check capacity in the cluster first:
	// without one, that is an error, and nothing is committed; with
	// --capacity=false the user flips without it.
	before = r.commits(t)
	if res := r.run(t, "promote"); res.code == 0 || !strings.Contains(res.stderr, "HorizontalPodAutoscalers make a flip check capacity") || r.commits(t) != before {
		t.Errorf("promote of an autoscaled folder without a cluster: exit %d, %s", res.code, res.stderr)
	}
	r.mustRun(t, "promote", "--capacity=false")
	if b, g := hpaMin("blue"), hpaMin("green"); b != "2" || g != "3" {
		t.Errorf("after the promote, HPA floors blue %s, green %s; want 2 (idle) and 3 (live)", b, g)
	}
}
