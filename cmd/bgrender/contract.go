package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/bgrender/bgrender/promote"
	"github.com/bgrender/bgrender/release"
)

func contractCommand() *command {
	return &command{
		name:    "contract",
		summary: "run the contract migration once the old color is retired, as a Git commit",
		usage:   "--repo URL --path DIR [--wait] [flags]",
		long:    contractLong + gitopsLong,
		example: contractExamples,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			var g gitFlags
			g.register(fs)
			opts := addClusterFlags(fs, nsFromFolder)
			after := &liveFlags{}
			fs.BoolVar(&after.wait, "wait", false, "after the push (with --pull-request, the merge), wait until the contract Job has succeeded; exit 1 if it fails or on --timeout")
			fs.DurationVar(&after.timeout, "job-timeout", 10*time.Minute, "with --wait: how long to wait for the Job")
			fs.StringArrayVar(&after.reconcile, "reconcile", nil, "after the push, ask the GitOps agent to apply it now: `KIND/NAMESPACE/NAME` (see deploy --help)")
			return func(args []string) error {
				start := time.Now()
				if after.wait && g.dryRun {
					return usageError("--wait acts on a pushed contract: not with --dry-run")
				}
				ctx, stop := interruptible()
				defer stop()
				t, st, err := gitopsUsage(ctx, s, &g, after, opts, args)
				if err != nil {
					return err
				}
				a := &promote.Contract{Target: *t}
				_, err = execute(ctx, s, &g, t, opts, "contract", release.PlanContract(a, after.live(), st), st, start)
				return err
			}
		},
	}
}
