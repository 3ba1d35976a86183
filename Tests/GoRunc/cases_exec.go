package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execCapture is go-runc's Exec of a full specs.Process with PipeIO (owned by the process's uid/gid, as containerd
// does); stdin gets `input` then end-of-file. Returns the process's status (go-runc's ExitError), or -1.
func (h *harness) execCapture(ctx context.Context, id string, p specs.Process, input string) (int, *captured, error) {
	out, err := newCaptured(int(p.User.UID), int(p.User.GID))
	if err != nil {
		return -1, nil, err
	}
	go func() {
		if input != "" {
			_, _ = out.io.Stdin().Write([]byte(input))
		}
		out.closeStdin()
	}()
	err = h.rc.Exec(ctx, id, p, &runc.ExecOpts{IO: out.io})
	out.wait(10 * time.Second)
	status := 0
	if err != nil {
		var ee *runc.ExitError
		if !errors.As(err, &ee) {
			return -1, out, err
		}
		status = ee.Status
	}
	return status, out, nil
}

var basePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exec while the workload runs, then list, ps, stats, update, pause/resume around it.
func caseExec(ctx context.Context, h *harness, r *record) {
	s := h.createStarted(ctx, r, "exec", "c", nil, "sleep", "1000000")
	if s == nil {
		return
	}
	defer s.out.close()
	s.out.closeStdin()

	p := specs.Process{
		Terminal: false,
		Args:     []string{"sh", "-c", `echo "FOO=$FOO"; pwd; id -u; id -g; id -un; echo err >&2; exit 5`},
		Env:      []string{basePath, "FOO=bar"},
		Cwd:      "/home/user",
		User:     specs.User{UID: 1000, GID: 1000},
	}
	status, out, err := h.execCapture(ctx, s.id, p, "")
	if err != nil {
		r.fail("exec: %v", err)
	} else {
		r.set("exec_status", status)
		r.set("exec_stdout", lines(out.stdout.String()))
		r.set("exec_stderr", lines(out.stderr.String()))
		out.close()
		r.expect("exec status", status, 5)
		r.expect("exec stdout", r.get("exec_stdout"), []string{"FOO=bar", "/home/user", "1000", "1000", "user"})
		r.expect("exec stderr", r.get("exec_stderr"), []string{"err"})
	}
	// stdin through exec, as root in /.
	cat := specs.Process{Args: []string{"sh", "-c", "cat; echo eof"}, Env: []string{basePath}, Cwd: "/"}
	status, out, err = h.execCapture(ctx, s.id, cat, "line 1\nline 2\n")
	if err != nil {
		r.fail("exec cat: %v", err)
	} else {
		r.set("exec_stdin_status", status)
		r.set("exec_stdin_stdout", lines(out.stdout.String()))
		out.close()
		r.expect("exec stdin stdout", r.get("exec_stdin_stdout"), []string{"line 1", "line 2", "eof"})
	}
	h.execDetached(ctx, r, s.id)
	// A missing command: runc fails the exec itself (255) and says why.
	missing := specs.Process{Args: []string{"nosuchcmd"}, Env: []string{basePath}, Cwd: "/"}
	err = h.rc.Exec(ctx, s.id, missing, &runc.ExecOpts{})
	r.set("exec_missing", errInfo(err))

	list, err := h.rc.List(ctx)
	r.set("list_call", errInfo(err))
	st, c := h.statusOf(ctx, s.id)
	for _, l := range list {
		if l.ID == s.id && c != nil {
			r.set("list_status", l.Status)
			r.set("list_pid_is_state_pid", l.Pid == c.Pid)
			r.set("list_bundle", l.Bundle == s.bundle)
		}
	}
	r.set("state_status", st)
	pids, err := h.rc.Ps(ctx, s.id)
	r.set("ps_call", errInfo(err))
	r.set("ps_count", len(pids))
	contains := false
	for _, pid := range pids {
		contains = contains || pid == s.pid
	}
	r.set("ps_contains_pid", contains)

	stats, err := h.rc.Stats(ctx, s.id)
	r.set("stats_call", errInfo(err))
	if stats != nil {
		r.set("stats_memory_usage_nonzero", stats.Memory.Usage.Usage > 0)
		r.set("stats_pids_current", stats.Pids.Current)
		r.set("stats_cpu_total_nonzero", stats.Cpu.Usage.Total > 0)
	}
	limit := int64(256 << 20)
	r.set("update", errInfo(h.rc.Update(ctx, s.id, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})))

	r.set("pause", errInfo(h.rc.Pause(ctx, s.id)))
	r.set("paused_status", h.waitStatus(ctx, s.id, "paused", 5*time.Second))
	r.set("resume", errInfo(h.rc.Resume(ctx, s.id)))
	r.set("resumed_status", h.waitStatus(ctx, s.id, "running", 5*time.Second))
	r.set("resume_running", msgOf(h.rc.Resume(ctx, s.id)))

	r.set("delete_force", errInfo(h.rc.Delete(ctx, s.id, &runc.DeleteOpts{Force: true})))
	if _, err := waitPid(s.pid, 30*time.Second); err != nil {
		r.fail("wait: %v", err)
	}
	r.set("exec_after_delete", errInfo(h.rc.Exec(ctx, s.id, cat, &runc.ExecOpts{})))

	r.expect("list status", r.get("list_status"), "running")
	r.expect("stats", r.get("stats_call"), map[string]any{"ok": true})
	r.expect("exec missing exit", r.get("exec_missing").(map[string]any)["exit"], 255)
	r.expect("paused", r.get("paused_status"), "paused")
	r.expect("resumed", r.get("resumed_status"), "running")
	r.expect("resume running", r.get("resume_running"), "container not paused")
	r.expect("exec after delete", r.get("exec_after_delete").(map[string]any)["msg"],
		"exec failed: container does not exist")
}

// execDetached is containerd's exec: `exec --detach --pid-file P` returns once the process started; the pid-file
// process (reparented to us, the subreaper) relays its output and exits with its status.
func (h *harness) execDetached(ctx context.Context, r *record, id string) {
	p := specs.Process{Args: []string{"sh", "-c", "sleep 1; echo detached; exit 6"}, Env: []string{basePath}, Cwd: "/"}
	out, err := newCaptured(0, 0)
	if err != nil {
		r.fail("pipe io: %v", err)
		return
	}
	defer out.close()
	out.closeStdin()
	pidFile := filepath.Join(h.bundleDir, "exec-detached.pid")
	t0 := time.Now()
	err = h.rc.Exec(ctx, id, p, &runc.ExecOpts{IO: out.io, Detach: true, PidFile: pidFile})
	r.set("exec_detached_call", errInfo(err))
	if err != nil {
		return
	}
	// The process sleeps 1 s first: a runtime that waited for it would have taken that long to return.
	r.set("exec_detached_returned_early", time.Since(t0) < time.Second)
	pid, err := runc.ReadPidFile(pidFile)
	if err != nil {
		r.fail("exec pid file: %v", err)
		return
	}
	status, err := waitPid(pid, 30*time.Second)
	if err != nil {
		r.fail("wait for the exec pid-file process: %v", err)
	}
	out.wait(10 * time.Second)
	r.set("exec_detached_pid_exit", status)
	r.set("exec_detached_stdout", lines(out.stdout.String()))
	r.expect("detached exec exit", status, 6)
	r.expect("detached exec stdout", lines(out.stdout.String()), []string{"detached"})
}

// Latency: bundle → workload started (Create+Start returned) for a first VM and a second one from the same
// unchanged bundle (the bundle's rootfs is unique to this run, so the first pays any rootfs conversion), then the
// median of n more; and the Exec round trip of `true` (median of n) on a running workload.
func caseLatency(ctx context.Context, h *harness, r *record) {
	var createStart []float64
	for i := 0; i < h.n+2; i++ {
		if i == 0 {
			if _, err := h.bundle("latency-c", []string{"--unique"}, "sleep", "1000000"); err != nil {
				r.fail("bundle: %v", err)
				return
			}
		}
		id := idFor("latency", "c")
		nio, _ := runc.NewNullIO()
		bundle := h.bundleDir + "/latency-c"
		pidFile := bundle + "/init.pid"
		t0 := time.Now()
		err := h.rc.Create(ctx, id, bundle, &runc.CreateOpts{IO: nio, PidFile: pidFile})
		if err == nil {
			err = h.rc.Start(ctx, id)
		}
		d := time.Since(t0)
		nio.Close()
		if err != nil {
			r.fail("create+start %d: %v", i, err)
			return
		}
		createStart = append(createStart, ms(d))
		if i == h.n+1 {
			execMs := h.execLatency(ctx, r, id)
			r.set("exec_ms", execMs)
			r.set("exec_median_ms", median(execMs))
		}
		pid, _ := runc.ReadPidFile(pidFile)
		if err := h.rc.Delete(ctx, id, &runc.DeleteOpts{Force: true}); err != nil {
			r.fail("delete %d: %v", i, err)
			return
		}
		if _, err := waitPid(pid, 30*time.Second); err != nil {
			r.fail("wait %d: %v", i, err)
		}
	}
	r.set("create_start_ms", createStart)
	r.set("first_ms", createStart[0])
	r.set("second_ms", createStart[1])
	r.set("rest_median_ms", median(createStart[2:]))
}

func (h *harness) execLatency(ctx context.Context, r *record, id string) []float64 {
	p := specs.Process{Args: []string{"true"}, Env: []string{basePath}, Cwd: "/"}
	var out []float64
	for i := 0; i < h.n; i++ {
		nio, _ := runc.NewNullIO()
		t0 := time.Now()
		err := h.rc.Exec(ctx, id, p, &runc.ExecOpts{IO: nio})
		d := time.Since(t0)
		nio.Close()
		if err != nil {
			r.fail("exec %d: %v", i, err)
			return out
		}
		out = append(out, ms(d))
	}
	return out
}
