package main

import (
	"os/exec"
	"syscall"

	runc "github.com/containerd/go-runc"
)

// lazyMonitor replaces go-runc's default process monitor, as containerd replaces it with its reaper. The default
// one calls cmd.Wait as soon as the runtime started, and cmd.Wait closes a StdoutPipe once the process exits: go-runc
// 1.0.0's Stats reads `events --stats` through such a pipe, so a runtime that answers and exits quickly loses the
// race and Stats fails with "read |0: file already closed" (seen here under load, against runc). This monitor waits
// when go-runc asks it to (after Stats decoded its line), with the same status rules as the default one.
type lazyMonitor struct{}

func (lazyMonitor) Start(c *exec.Cmd) (chan runc.Exit, error) {
	if err := c.Start(); err != nil {
		return nil, err
	}
	return nil, nil
}

func (lazyMonitor) Wait(c *exec.Cmd, _ chan runc.Exit) (int, error) {
	err := c.Wait()
	if err == nil {
		return 0, nil
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return ws.ExitStatus(), nil
		}
	}
	return 255, nil
}
