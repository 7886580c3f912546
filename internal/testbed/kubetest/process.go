package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is one child process of a test binary, its output in a log
// file. The kernel kills it if the test binary dies (see childSysProcAttr).
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and was reaped
	waitErr error         // valid after done is closed
}

// StartProcess starts bin with args and env, its stdout and stderr
// appended to logPath.
func StartProcess(name, bin, logPath string, env []string, args ...string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended (and was reaped: a zombie
// counts as ended).
func (p *Process) Exited() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs; it returns once the
// process has been reaped.
func (p *Process) Stop(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Err is how the process ended (nil while it runs, or when it exited 0).
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// ResidentMemory is the process's resident memory (VmRSS) now, in bytes;
// it is read from /proc, so only on Linux.
func (p *Process) ResidentMemory() (int64, error) {
	if p.Exited() {
		return 0, fmt.Errorf("%s has exited", p.Name)
	}
	return residentMemory(p.Pid())
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	tail := lastLines(string(data), n)
	if tail == "" {
		return "(empty)"
	}
	return tail
}
