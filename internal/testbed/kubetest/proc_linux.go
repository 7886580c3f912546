package kubetest

import "syscall"

// childSysProcAttr makes the kernel kill a child process when the test binary
// dies without calling Stop (a test timeout, a panic in a test goroutine,
// SIGKILL), so no etcd or kube-apiserver outlives it.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processGone reports whether no process has the given pid.
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
