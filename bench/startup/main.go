// Command startup measures how long a bgrender process takes from exec to
// exit, since Helm starts bgrender as a post-renderer on every install.
// It prints the median and other quantiles of the wall time of N runs.
//
//	go run ./bench/startup -n 200 [-bin PATH] [args...]   (default args: version)
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	n := flag.Int("n", 200, "number of runs")
	bin := flag.String("bin", "", "bgrender binary (default: build ./cmd/bgrender into a temporary directory)")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		args = []string{"version"}
	}
	if *bin == "" {
		dir, err := os.MkdirTemp("", "bgrender-startup")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "bgrender")
		build := exec.Command("go", "build", "-trimpath", "-o", *bin, "./cmd/bgrender")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fail(fmt.Errorf("build: %w", err))
		}
	}
	// One warm-up run so that the binary is in the page cache.
	if out, err := exec.Command(*bin, args...).CombinedOutput(); err != nil {
		fail(fmt.Errorf("%s %v: %v\n%s", *bin, args, err, out))
	}
	times := make([]time.Duration, 0, *n)
	for i := 0; i < *n; i++ {
		cmd := exec.Command(*bin, args...)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fail(err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	q := func(p float64) time.Duration { return times[int(p*float64(len(times)-1))] }
	fmt.Printf("bgrender %v: %d runs: min %v  median %v  p90 %v  max %v\n",
		args, len(times), round(times[0]), round(q(0.5)), round(q(0.9)), round(times[len(times)-1]))
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "startup:", err)
	os.Exit(1)
}
