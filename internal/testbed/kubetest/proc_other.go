//go:build !linux

package kubetest

import "syscall"

func childSysProcAttr() *syscall.SysProcAttr { return nil }

// processGone cannot tell elsewhere; stale directories are then kept.
func processGone(int) bool { return false }
