package release_test

import (
	"os"
	"time"

	"github.com/bgrender/bgrender/agent"
	"github.com/bgrender/bgrender/gate"
	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
	"github.com/bgrender/bgrender/spec"
)

// A stepped promotion of an app whose HTTPRoute splits traffic between
// its per-color Services: each step a commit, a wait until the route
// carries it, and a hold; the last step flips the Services and waits until
// the live Service serves the new color.
func ExamplePlanSteps() {
	zero := int32(0)
	st := &promote.State{App: "my-application", Active: spec.Blue, Weight: &zero}
	p, err := release.PlanSteps(release.StepsOptions{
		Target: &promote.Target{Path: "apps/my-application"},
		Steps:  []int32{10, 50, 100},
		Live:   release.Live{Timeout: 5 * time.Minute},
		Hold:   time.Minute, Interval: 10 * time.Second,
		Gates: &release.Gates{Checks: &gate.Checks{}},
	}, st)
	if err != nil {
		panic(err)
	}
	_ = p.Describe(os.Stdout)
	// Output:
	// plan: promote my-application, 9 steps
	//   1. step 1 (10%): commit: send 10% to green
	//   2. step 1 (10%): wait-traffic: until the cluster sends 10% to green (at most 5m0s)
	//   3. step 1 (10%): hold: 1m0s
	//   4. step 2 (50%): commit: send 50% to green
	//   5. step 2 (50%): wait-traffic: until the cluster sends 50% to green (at most 5m0s)
	//   6. step 2 (50%): hold: 1m0s
	//   7. step 3 (100%): commit: flip the Services to green and end the shift
	//   8. step 3 (100%): wait-traffic: until the cluster sends 100% to green (at most 5m0s)
	//   9. wait-live: until the live Service serves green with only ready endpoints (at most 5m0s)
}

// A promotion in one commit, gated: the gates on the color to promote,
// the commit, the agent asked to apply it, and the wait until the cluster
// serves it.
func ExamplePlanPromote() {
	st := &promote.State{App: "my-application", Active: spec.Blue}
	p := release.PlanPromote(release.PromoteOptions{
		Target: &promote.Target{Path: "apps/my-application"},
		To:     spec.Green,
		Gates:  &release.Gates{Checks: &gate.Checks{RequireRollout: true, HealthPath: "/health"}},
		Live:   release.Live{Wait: true, Timeout: 5 * time.Minute},
	}, st)
	_ = p.Describe(os.Stdout)
	// Output:
	// plan: promote my-application, 3 steps
	//   1. gates: rollout, health on green
	//   2. commit: flip the live Service to green
	//   3. wait-live: until the live Service serves the committed color with only ready endpoints (at most 5m0s)
}

// A deploy --wait of an app with spec.migrations.expand: the commit of the
// image and its expand Job, the agent asked to apply it, the wait for the
// Job to succeed, then the rollout gate on the deployed color.
func ExamplePlanDeploy_migration() {
	st := &promote.State{App: "orders", Active: spec.Blue, Preview: "orders-preview",
		ExpandJob: func(spec.Color, string) string { return "orders-expand-72f604c497" }}
	p, err := release.PlanDeploy(release.DeployOptions{
		Target: &promote.Target{Path: "apps/orders"},
		Image:  "registry.example.com/shop/orders:1.5.0",
		Wait:   true,
		Gates:  &release.Gates{Checks: &gate.Checks{Timeout: 2 * time.Minute}},
		Live:   release.Live{Refs: []agent.Ref{{Kind: "kustomization", Namespace: "flux-system", Name: "orders"}}},
	}, st)
	if err != nil {
		panic(err)
	}
	_ = p.Describe(os.Stdout)
	// Output:
	// plan: deploy orders, 4 steps
	//   1. commit: set the idle color's image to registry.example.com/shop/orders:1.5.0
	//   2. reconcile: ask kustomization/flux-system/orders to apply the commit
	//   3. wait-migration: until the expand Job orders-expand-72f604c497 of green's new image has succeeded (at most 2m0s)
	//   4. gates: rollout on the deployed color
}

// A contract --wait --reconcile, once scale-idle has set the old color
// (blue, on the old image) to 0 replicas in Git: the agent asked to apply
// that, the wait until no blue pod runs, the commit of the contract Job
// and its record, the agent asked again, the wait for the Job.
func ExamplePlanContract() {
	st := &promote.State{App: "orders", Active: spec.Green, ContractJob: "orders-contract-8a5c288078",
		Images:   map[spec.Color]string{spec.Blue: "orders:1.4.0", spec.Green: "orders:1.5.0"},
		Replicas: map[spec.Color]int32{spec.Blue: 0, spec.Green: 2}}
	a := &promote.Contract{Target: promote.Target{Path: "apps/orders"}}
	p := release.PlanContract(a, release.Live{Wait: true, Timeout: 5 * time.Minute,
		Refs: []agent.Ref{{Kind: "kustomization", Namespace: "flux-system", Name: "orders"}}}, st)
	_ = p.Describe(os.Stdout)
	// Output:
	// plan: contract orders, 5 steps
	//   1. reconcile: ask kustomization/flux-system/orders to apply the branch as it is
	//   2. wait-retired: until no pod of blue (Deployment orders-blue) runs in the cluster (at most 5m0s)
	//   3. commit: commit the contract Job of the live image, once the old color is retired
	//   4. reconcile: ask kustomization/flux-system/orders to apply the commit
	//   5. wait-migration: until the contract Job orders-contract-8a5c288078 of green's image has succeeded (at most 5m0s)
}
