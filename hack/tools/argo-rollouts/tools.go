//go:build tools

// Package tools pins the Argo Rollouts controller for hack/install-tools.sh.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
