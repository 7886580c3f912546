// Command postrender measures `bgrender postrender` on generated Helm
// streams of 100, 1,000 and 10,000 documents (Deployments, Services,
// ConfigMaps and Secrets, a quarter each), against `kustomize build` with a
// labels transformer (what people use as a post-renderer today) and a bare
// kyaml read-and-write (bench/kyamlfloor, the floor), in the same run. It
// prints the median wall time and the peak memory (max RSS) of each.
//
//	go run ./bench/postrender [-runs 5] [-kustomize .tools/kustomize/kustomize] [-kustomize-max 1000]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bgrender/bgrender/internal/testbed/benchdata"
)

func main() {
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	kustomize := flag.String("kustomize", ".tools/kustomize/kustomize", "kustomize binary; empty skips it")
	kustomizeMax := flag.Int("kustomize-max", 1000, "largest stream to give kustomize (it is quadratic: about 170 s at 10,000)")
	sizes := flag.String("sizes", "100,1000,10000", "stream sizes in documents")
	flag.Parse()

	dir, err := os.MkdirTemp("", "bench-postrender")
	check(err)
	defer os.RemoveAll(dir)
	bgrender := filepath.Join(dir, "bgrender")
	floor := filepath.Join(dir, "kyamlfloor")
	build(bgrender, "./cmd/bgrender")
	build(floor, "./bench/kyamlfloor")
	if *kustomize != "" {
		if _, err := os.Stat(*kustomize); err != nil {
			fmt.Fprintf(os.Stderr, "kustomize not found at %s (make bench-tools installs it); skipping it\n", *kustomize)
			*kustomize = ""
		}
	}

	fmt.Printf("%-8s %-22s %12s %12s\n", "docs", "command", "median", "max RSS")
	results := map[string]time.Duration{}
	for _, s := range strings.Split(*sizes, ",") {
		var n int
		fmt.Sscan(s, &n)
		stream := filepath.Join(dir, fmt.Sprintf("stream-%d.yaml", n))
		check(os.WriteFile(stream, benchdata.HelmStream(n), 0o644))
		measure := func(name string, cmd []string, stdin string) {
			d, rss := timeIt(*runs, cmd, stdin)
			results[fmt.Sprintf("%s/%d", name, n)] = d
			fmt.Printf("%-8d %-22s %12v %9.1f MB\n", n, name, d.Round(100*time.Microsecond), float64(rss)/1024)
		}
		measure("bgrender postrender", []string{bgrender, "postrender"}, stream)
		measure("kyaml read+write", []string{floor}, stream)
		if *kustomize != "" && n <= *kustomizeMax {
			kdir := filepath.Join(dir, fmt.Sprintf("kustomize-%d", n))
			check(os.MkdirAll(kdir, 0o755))
			data, err := os.ReadFile(stream)
			check(err)
			check(os.WriteFile(filepath.Join(kdir, "stream.yaml"), data, 0o644))
			check(os.WriteFile(filepath.Join(kdir, "kustomization.yaml"), []byte(
				"resources: [stream.yaml]\nlabels:\n- pairs: {bgrender.io/color: blue}\n  includeSelectors: true\n  includeTemplates: true\n"), 0o644))
			measure("kustomize build", []string{*kustomize, "build", kdir}, "")
		}
	}
	ratio := func(a, b string) {
		if results[a] > 0 && results[b] > 0 {
			fmt.Printf("%s / %s = %.2f\n", a, b, float64(results[a])/float64(results[b]))
		}
	}
	ratio("bgrender postrender/1000", "kustomize build/1000")
	ratio("bgrender postrender/1000", "kyaml read+write/1000")
	ratio("bgrender postrender/10000", "bgrender postrender/1000")
}

func build(out, pkg string) {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
}

// timeIt runs cmd runs times and returns the median wall time and the
// largest peak RSS in KiB.
func timeIt(runs int, cmd []string, stdin string) (time.Duration, int64) {
	var times []time.Duration
	var rss int64
	for range runs {
		c := exec.Command(cmd[0], cmd[1:]...)
		if stdin != "" {
			f, err := os.Open(stdin)
			check(err)
			c.Stdin = f
			defer f.Close()
		}
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, os.Stderr
		start := time.Now()
		check(c.Run())
		times = append(times, time.Since(start))
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], rss
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
