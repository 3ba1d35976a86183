package main

import (
	"context"
	"time"

	runc "github.com/containerd/go-runc"
)

func caseVersion(ctx context.Context, h *harness, r *record) {
	v, err := h.rc.Version(ctx)
	r.set("call", errInfo(err))
	r.set("runc", v.Runc)
	r.set("commit", v.Commit)
	r.set("spec", v.Spec)
	// go-runc fills the fields only when the first line starts with "runc version " (no error otherwise).
	r.set("parsed", v.Runc != "")
	r.expect("version call", errInfo(err), map[string]any{"ok": true})
}

// runCaptured makes bundle `name` running args and does go-runc's foreground Run of it as `id` with PipeIO (stdin
// closed). ok is false when the bundle or the pipes could not be made (already recorded as failures); otherwise the
// caller owns out and closes it.
func runCaptured(ctx context.Context, h *harness, r *record, name, id string, args ...string) (out *captured, status int,
	ok bool, err error) {
	bundle, err := h.bundle(name, nil, args...)
	if err != nil {
		r.fail("bundle: %v", err)
		return nil, 0, false, err
	}
	out, err = newCaptured(0, 0)
	if err != nil {
		r.fail("pipe io: %v", err)
		return nil, 0, false, err
	}
	out.closeStdin()
	status, err = h.rc.Run(ctx, id, bundle, &runc.CreateOpts{IO: out.io})
	// go-runc's Run does not close our copies of the pipes' write ends (Create and Exec do): the caller must.
	if c, isCloser := out.io.(runc.StartCloser); isCloser {
		_ = c.CloseAfterStart()
	}
	return out, status, true, err
}

// runForeground is go-runc's Run (`run --bundle B ID`, foreground) with PipeIO: returns the workload's status.
func runForeground(ctx context.Context, h *harness, r *record, name string, args []string, wantStatus int,
	wantStdout, wantStderr []string) {
	id := idFor(name, "c")
	out, status, ok, err := runCaptured(ctx, h, r, name, id, args...)
	if !ok {
		return
	}
	defer out.close()
	if !out.wait(10 * time.Second) {
		r.fail("output pipes still open 10 s after run returned")
	}
	r.set("status", status)
	r.set("call", errInfo(err))
	r.set("stdout", lines(out.stdout.String()))
	r.set("stderr", lines(out.stderr.String()))
	_, present, lerr := h.listed(ctx, id)
	if lerr != nil {
		r.fail("list: %v", lerr)
	}
	r.set("listed_after", present)
	r.expect("status", status, wantStatus)
	r.expect("stdout", lines(out.stdout.String()), wantStdout)
	r.expect("stderr", lines(out.stderr.String()), wantStderr)
	r.expect("listed after a foreground run", present, false)
}

func caseRunExit0(ctx context.Context, h *harness, r *record) {
	runForeground(ctx, h, r, "run_exit0",
		[]string{"sh", "-c", `echo "out $FOO"; echo err >&2; pwd; id -u; hostname; exit 0`}, 0,
		[]string{"out ", "/", "0", "runc"}, []string{"err"})
}

func caseRunExit3(ctx context.Context, h *harness, r *record) {
	runForeground(ctx, h, r, "run_exit3", []string{"sh", "-c", "echo three; exit 3"}, 3, []string{"three"}, []string{})
}

// The workload's child SIGKILLs itself and the workload exits with the shell's status for it, 137. (A literal
// `kill -9 $$` by the workload itself: see run_self_kill_init.)
func caseRunExit137(ctx context.Context, h *harness, r *record) {
	runForeground(ctx, h, r, "run_exit137", []string{"sh", "-c", `sh -c 'kill -9 $$'; exit $?`}, 137,
		[]string{}, []string{"Killed"})
}

// `kill -9 $$` by the workload itself. Under runc the workload is the init of its pid namespace, and the kernel
// drops signals sent to such an init from inside its namespace when it has no handler, SIGKILL included: the shell
// goes on and exits 0. A VM's workload is a child of vm-init, so the same line ends it with 137 (README.md).
func caseRunSelfKillInit(ctx context.Context, h *harness, r *record) {
	args := []string{"sh", "-c", `kill -9 $$; echo survived`}
	if h.vm {
		runForeground(ctx, h, r, "run_self_kill_init", args, 137, []string{}, []string{})
		return
	}
	runForeground(ctx, h, r, "run_self_kill_init", args, 0, []string{"survived"}, []string{})
}

// Run of a command that is not in the rootfs: the runtime fails (exit 1, runc's `executable file not found in
// $PATH`, which podman maps to 127), the workload never runs, nothing is left.
func caseRunMissingCmd(ctx context.Context, h *harness, r *record) {
	id := idFor("run_missing_cmd", "c")
	mark := h.logMark()
	out, status, ok, err := runCaptured(ctx, h, r, "run_missing_cmd", id, "nosuchcmd")
	if !ok {
		return
	}
	defer out.close()
	out.wait(10 * time.Second)
	r.set("status", status)
	r.set("call", errInfo(err))
	msgs, _ := h.logErrors(mark)
	r.set("log_errors", msgs)
	r.set("stderr", lines(out.stderr.String()))
	r.set("leftovers", h.leftovers(ctx, id))
	r.expect("status", status, 1)
	r.expect("leftovers", r.get("leftovers"), map[string]any{"listed": false, "state_dir": false, "processes": 0})
}
