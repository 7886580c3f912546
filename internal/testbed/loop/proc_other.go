//go:build !linux

package loop

import "syscall"

func childSysProcAttr() *syscall.SysProcAttr { return nil }
