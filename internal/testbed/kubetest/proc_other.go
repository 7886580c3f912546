//go:build !linux

package kubetest

import (
	"errors"
	"syscall"
)

func childSysProcAttr() *syscall.SysProcAttr { return nil }

// processGone cannot tell elsewhere; stale directories are then kept.
func processGone(int) bool { return false }

// residentMemory needs Linux's /proc.
func residentMemory(int) (int64, error) {
	return 0, errors.New("resident memory is read from /proc (Linux only)")
}
