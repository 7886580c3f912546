//go:build tools

// Package tools records the command that hack/install-tools.sh builds from
// this module, so that "go mod tidy" keeps its dependencies.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
