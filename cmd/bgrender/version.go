package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the bgrender version",
		usage:   "[flags]",
		long:    `Print the version of bgrender, the Go version it was built with, and its platform.`,
		example: `  bgrender version`,
		setup: func(fs *pflag.FlagSet, s streams) func([]string) error {
			return func(args []string) error {
				if len(args) > 0 {
					return usageError("version takes no arguments")
				}
				fmt.Fprintf(s.out, "bgrender %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	}
}

// buildVersion is the release version, else the module version that
// `go install ...@version` records, else "devel" with the commit if known.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel+" + s.Value[:12]
		}
	}
	return "devel"
}
