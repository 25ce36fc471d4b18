//go:build windows

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own: the console's
// Ctrl-C then reaches the scheduler only.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// interruptGroup stops p. Windows cannot send another process a signal it
// could handle (no SIGTERM), so the run is killed: it loses at most the
// calls in flight, as after kill -9, and resumes from its checkpoints.
func interruptGroup(p *os.Process) error {
	return p.Kill()
}
