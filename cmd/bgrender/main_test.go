package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgrender/bgrender/internal/testbed/goldenfile"
)

const (
	goldenDir   = "../../testdata/golden"
	examplesDir = "../../examples"
)

// result is what one in-process run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// golden compares got with testdata/golden/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join(goldenDir, name), got)
}

// examples lists the bundled example specs by name.
func examples(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(examplesDir, "*", "app.yaml"))
	if err != nil || len(paths) < 3 {
		t.Fatalf("want at least 3 examples in %s, found %d (%v)", examplesDir, len(paths), err)
	}
	out := map[string]string{}
	for _, p := range paths {
		out[filepath.Base(filepath.Dir(p))] = p
	}
	return out
}
