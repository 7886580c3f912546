//go:build tools

// Package tools records the command that hack/install-tools.sh builds from
// this module.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
)
