package main

import (
	"context"
	"path/filepath"
	"syscall"
	"time"

	runc "github.com/containerd/go-runc"
)

// started is a detached workload made by go-runc's Create (+ Start), with its output captured.
type started struct {
	id, bundle, pidFile string
	out                 *captured
	pid                 int // from the pid file
}

// create runs go-runc's Create with PipeIO and a pid file, as containerd's shim does; stdin stays open.
func (h *harness) create(ctx context.Context, r *record, name, step string, opts []string, args ...string) *started {
	id := idFor(name, step)
	bundle, err := h.bundle(name+"-"+step, opts, args...)
	if err != nil {
		r.fail("bundle: %v", err)
		return nil
	}
	out, err := newCaptured(0, 0)
	if err != nil {
		r.fail("pipe io: %v", err)
		return nil
	}
	s := &started{id: id, bundle: bundle, pidFile: filepath.Join(bundle, "init.pid"), out: out}
	if err := h.rc.Create(ctx, id, bundle, &runc.CreateOpts{IO: out.io, PidFile: s.pidFile}); err != nil {
		r.fail("create %s: %v (stderr %q)", id, err, out.stderr.String())
		out.close()
		return nil
	}
	// go-runc's ReadPidFile: strconv.Atoi on the raw bytes (a trailing newline would break containerd).
	if s.pid, err = runc.ReadPidFile(s.pidFile); err != nil {
		r.fail("pid file: %v", err)
	}
	return s
}

func (h *harness) createStarted(ctx context.Context, r *record, name, step string, opts []string, args ...string) *started {
	s := h.create(ctx, r, name, step, opts, args...)
	if s == nil {
		return nil
	}
	if err := h.rc.Start(ctx, s.id); err != nil {
		r.fail("start %s: %v", s.id, err)
		return nil
	}
	return s
}

func msgOf(err error) string {
	m := errInfo(err)
	if msg, ok := m["msg"].(string); ok && !m["ok"].(bool) {
		return msg
	}
	return ""
}

func caseLifecycle(ctx context.Context, h *harness, r *record) {
	t0 := time.Now()
	s := h.create(ctx, r, "lifecycle", "c", []string{"--annotation", "org.example.worker=w1"},
		"sh", "-c", `echo started; read line; echo "got $line"; exit 7`)
	if s == nil {
		return
	}
	defer s.out.close()
	created := time.Since(t0)
	st1, c1 := h.statusOf(ctx, s.id)
	r.set("create_existing", h.createExisting(ctx, s))
	if err := h.rc.Start(ctx, s.id); err != nil {
		r.fail("start: %v", err)
		return
	}
	startLatency := time.Since(t0)
	r.set("create_ms", ms(created))
	r.set("create_start_ms", ms(startLatency))
	st2, c2 := h.statusOf(ctx, s.id)
	if c1 != nil {
		r.set("created_pid_is_pidfile", c1.Pid == s.pid)
		r.set("created_pid_positive", c1.Pid > 0)
		r.set("bundle", c1.Bundle == s.bundle)
		r.set("rootfs", c1.Rootfs == filepath.Join(s.bundle, "rootfs"))
		r.set("annotations", c1.Annotations)
		r.set("created_time_sane", !c1.Created.Before(t0.Add(-time.Second)) && !c1.Created.After(time.Now().Add(time.Second)))
	}
	if c2 != nil {
		r.set("running_pid_is_pidfile", c2.Pid == s.pid)
	}
	r.set("start_running", msgOf(h.rc.Start(ctx, s.id)))
	r.set("delete_running", msgOf(h.rc.Delete(ctx, s.id, nil)))
	if !s.out.waitFor("started", 20*time.Second) {
		r.fail("workload never printed 'started'")
	}
	_, _ = s.out.io.Stdin().Write([]byte("go\n"))
	s.out.closeStdin()
	status, err := waitPid(s.pid, 30*time.Second)
	if err != nil {
		r.fail("wait for the pid-file process: %v", err)
	}
	r.set("pid_exit", status)
	st3 := h.waitStatus(ctx, s.id, "stopped", 10*time.Second)
	_, c3 := h.statusOf(ctx, s.id)
	if c3 != nil {
		r.set("stopped_pid", c3.Pid)
	}
	r.set("statuses", []string{st1, st2, st3})
	r.set("start_stopped", msgOf(h.rc.Start(ctx, s.id)))
	r.set("kill_stopped", msgOf(h.rc.Kill(ctx, s.id, int(syscall.SIGTERM), nil)))
	r.set("kill_all_stopped", errInfo(h.rc.Kill(ctx, s.id, int(syscall.SIGKILL), &runc.KillOpts{All: true})))
	if !s.out.wait(10 * time.Second) {
		r.fail("output pipes still open 10 s after the workload exited")
	}
	r.set("stdout", lines(s.out.stdout.String()))
	r.set("delete", errInfo(h.rc.Delete(ctx, s.id, nil)))
	st4, _ := h.statusOf(ctx, s.id)
	r.set("state_after_delete", st4)
	r.set("delete_again", msgOf(h.rc.Delete(ctx, s.id, nil)))

	r.expect("statuses", []string{st1, st2, st3}, []string{"created", "running", "stopped"})
	r.expect("pid-file process exit", status, 7)
	r.expect("stdout", lines(s.out.stdout.String()), []string{"started", "got go"})
	r.expect("start running", r.get("start_running"), "cannot start an already running container")
	r.expect("delete running", r.get("delete_running"),
		"cannot delete container "+s.id+" that is not stopped: running")
	r.expect("start stopped", r.get("start_stopped"), "cannot start a container that has stopped")
	r.expect("kill stopped", r.get("kill_stopped"), "container not running")
	r.expect("state after delete", st4, "error: container does not exist")
	r.expect("stopped pid", r.get("stopped_pid"), 0)
}

// createExisting: a second Create with the id of a created container fails (runc's text, in the --log file)
// and leaves the first one as it was.
func (h *harness) createExisting(ctx context.Context, s *started) map[string]any {
	out, err := newCaptured(0, 0)
	if err != nil {
		return map[string]any{"pipe_error": err.Error()}
	}
	defer out.close()
	out.closeStdin()
	mark := h.logMark()
	err = h.rc.Create(ctx, s.id, s.bundle, &runc.CreateOpts{IO: out.io, PidFile: filepath.Join(s.bundle, "second.pid")})
	m := errInfo(err)
	m["log_errors"], _ = h.logErrors(mark)
	m["first_status"], _ = h.statusOf(ctx, s.id)
	return m
}

// Kill with SIGTERM: the workload traps it (it is its pid namespace's init under runc, so an untrapped TERM would
// be ignored there) and exits 42; the pid-file process must exit 42 too.
func caseKillTerm(ctx context.Context, h *harness, r *record) {
	s := h.createStarted(ctx, r, "kill_term", "c", nil,
		"sh", "-c", `trap 'kill $!; echo got TERM; exit 42' TERM; sleep 1000000 & echo ready; wait`)
	if s == nil {
		return
	}
	defer s.out.close()
	s.out.closeStdin()
	if !s.out.waitFor("ready", 30*time.Second) {
		r.fail("workload never printed 'ready'")
	}
	r.set("kill", errInfo(h.rc.Kill(ctx, s.id, int(syscall.SIGTERM), nil)))
	status, err := waitPid(s.pid, 30*time.Second)
	if err != nil {
		r.fail("wait: %v", err)
	}
	r.set("pid_exit", status)
	r.set("status_after", h.waitStatus(ctx, s.id, "stopped", 10*time.Second))
	s.out.wait(10 * time.Second)
	r.set("stdout", lines(s.out.stdout.String()))
	r.expect("pid-file process exit", status, 42)
	r.expect("stdout", lines(s.out.stdout.String()), []string{"ready", "got TERM"})
	r.expect("status after", r.get("status_after"), "stopped")
}

// Kill --all with SIGTERM: every process of the container gets it; the two sleeps die, the shell's trap runs.
func caseKillAll(ctx context.Context, h *harness, r *record) {
	s := h.createStarted(ctx, r, "kill_all", "c", nil,
		"sh", "-c", `trap 'echo TERM' TERM; sleep 1000000 & sleep 1000000 & echo ready; wait; wait; wait; echo done`)
	if s == nil {
		return
	}
	defer s.out.close()
	s.out.closeStdin()
	if !s.out.waitFor("ready", 30*time.Second) {
		r.fail("workload never printed 'ready'")
	}
	pids, err := h.rc.Ps(ctx, s.id)
	r.set("ps_call", errInfo(err))
	r.set("ps_count", len(pids))
	r.set("kill", errInfo(h.rc.Kill(ctx, s.id, int(syscall.SIGTERM), &runc.KillOpts{All: true})))
	status, err := waitPid(s.pid, 30*time.Second)
	if err != nil {
		r.fail("wait: %v", err)
	}
	r.set("pid_exit", status)
	r.set("status_after", h.waitStatus(ctx, s.id, "stopped", 10*time.Second))
	after, err := h.rc.Ps(ctx, s.id)
	r.set("ps_after_call", errInfo(err))
	r.set("ps_after_count", len(after))
	s.out.wait(10 * time.Second)
	r.set("stdout", lines(s.out.stdout.String()))
	r.expect("pid-file process exit", status, 0)
	r.expect("stdout", lines(s.out.stdout.String()), []string{"ready", "TERM", "done"})
	r.expect("ps after", len(after), 0)
}

// delete --force of a running container: SIGKILL, gone; twice; and of an id that never existed.
func caseDeleteForce(ctx context.Context, h *harness, r *record) {
	s := h.createStarted(ctx, r, "delete_force", "c", nil, "sleep", "1000000")
	if s == nil {
		return
	}
	defer s.out.close()
	s.out.closeStdin()
	r.set("first", errInfo(h.rc.Delete(ctx, s.id, &runc.DeleteOpts{Force: true})))
	status, err := waitPid(s.pid, 30*time.Second)
	if err != nil {
		r.fail("wait: %v", err)
	}
	r.set("pid_exit", status)
	st, _ := h.statusOf(ctx, s.id)
	r.set("state_after", st)
	r.set("second", errInfo(h.rc.Delete(ctx, s.id, &runc.DeleteOpts{Force: true})))
	r.set("never_existed", errInfo(h.rc.Delete(ctx, idFor("delete_force", "none"), &runc.DeleteOpts{Force: true})))
	r.set("leftovers", h.leftovers(ctx, s.id))
	r.expect("leftovers", r.get("leftovers"), map[string]any{"listed": false, "state_dir": false, "processes": 0})
	r.expect("first", r.get("first"), map[string]any{"ok": true})
	r.expect("second", r.get("second"), map[string]any{"ok": true})
	r.expect("never existed", r.get("never_existed"), map[string]any{"ok": true})
	r.expect("pid-file process exit", status, 128+9)
	r.expect("state after", st, "error: container does not exist")
}

// Calls on an id that does not exist: runc's texts and exit codes are what containerd and podman match on.
func caseErrors(ctx context.Context, h *harness, r *record) {
	id := idFor("errors", "none")
	_, err := h.rc.State(ctx, id)
	r.set("state", errInfo(err))
	r.set("kill", errInfo(h.rc.Kill(ctx, id, int(syscall.SIGTERM), nil)))
	r.set("start", errInfo(h.rc.Start(ctx, id)))
	r.set("delete", errInfo(h.rc.Delete(ctx, id, nil)))
	r.set("pause", errInfo(h.rc.Pause(ctx, id)))
	_, err = h.rc.Ps(ctx, id)
	r.set("ps", errInfo(err))
	_, err = h.rc.State(ctx, "bad/id")
	r.set("state_invalid_id", errInfo(err))
	for _, k := range []string{"state", "kill", "start", "delete", "pause", "ps"} {
		r.expect(k, r.get(k).(map[string]any)["msg"], "container does not exist")
		r.expect(k+" exit", r.get(k).(map[string]any)["exit"], 1)
	}
}
