//go:build !windows

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own: the terminal's
// Ctrl-C (sent to its foreground group) then reaches the scheduler only.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// interruptGroup asks the process group led by p to stop as Ctrl-C would:
// SIGTERM, which a topscript run handles like SIGINT.
func interruptGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGTERM)
}
