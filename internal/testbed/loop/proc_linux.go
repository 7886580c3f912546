package loop

import "syscall"

// childSysProcAttr makes the kernel kill a child process when the test binary
// dies without calling Stop (a test timeout, a panic in a test goroutine,
// SIGKILL), so no controller outlives it.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
