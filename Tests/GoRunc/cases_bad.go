package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	runc "github.com/containerd/go-runc"
)

// badBundle: go-runc's Create of a broken bundle. Records the failure as a worker sees it (exit status, stderr, the
// --log error message containerd reports) and what is left behind (list entry, state directory).
func badBundle(ctx context.Context, h *harness, r *record, name string, breakIt func(bundle string) error, runcRefuses bool) {
	bundle, err := h.bundle(name, nil, "true")
	if err != nil {
		r.fail("bundle: %v", err)
		return
	}
	if err := breakIt(bundle); err != nil {
		r.fail("breaking the bundle: %v", err)
		return
	}
	id := idFor(name, "c")
	out, err := newCaptured(0, 0)
	if err != nil {
		r.fail("pipe io: %v", err)
		return
	}
	defer out.close()
	out.closeStdin()
	mark := h.logMark()
	err = h.rc.Create(ctx, id, bundle, &runc.CreateOpts{IO: out.io, PidFile: filepath.Join(bundle, "init.pid")})
	if err != nil {
		out.wait(5 * time.Second) // a refused create leaves no process holding the pipes
	}
	call := errInfo(err)
	r.set("call", call)
	stderr := lines(out.stderr.String())
	r.set("stderr", stderr)
	r.set("stderr_one_line", len(stderr) == 1)
	msgs, bad := h.logErrors(mark)
	r.set("log_errors", msgs)
	r.set("log_bad_lines", bad)
	if err != nil {
		r.set("leftovers", h.leftovers(ctx, id))
	}
	refused := !call["ok"].(bool)
	r.set("refused", refused)
	if runcRefuses {
		r.expect("refused", refused, true)
	}
	// However a runtime refuses a bundle, it does so like runc: exit 1, one line naming the problem on stderr and
	// in the --log file, nothing left behind.
	if refused {
		r.expect("exit", call["exit"], 1)
		r.expect("stderr one line", len(stderr) == 1, true)
		r.expect("log error lines", len(msgs), 1)
		r.expect("leftovers", r.get("leftovers"), map[string]any{"listed": false, "state_dir": false, "processes": 0})
		if len(stderr) == 1 && len(msgs) == 1 {
			r.expect("stderr is the log message", stderr[0], msgs[0])
		}
	}
}

func caseBadNoConfig(ctx context.Context, h *harness, r *record) {
	badBundle(ctx, h, r, "bad_no_config", func(b string) error { return os.Remove(filepath.Join(b, "config.json")) }, true)
}

func caseBadInvalidJSON(ctx context.Context, h *harness, r *record) {
	badBundle(ctx, h, r, "bad_invalid_json", func(b string) error {
		return os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
	}, true)
}

// runc 1.1.5 does not look at ociVersion's major version (it starts the bundle); issue 15 asks fc-supervisor to
// refuse it.
func caseBadOCIVersion(ctx context.Context, h *harness, r *record) {
	badBundle(ctx, h, r, "bad_oci_version", func(b string) error {
		return editConfig(b, func(c map[string]any) { c["ociVersion"] = "2.0.0" })
	}, false)
}

func caseBadMissingRootfs(ctx context.Context, h *harness, r *record) {
	badBundle(ctx, h, r, "bad_missing_rootfs", func(b string) error { return os.RemoveAll(filepath.Join(b, "rootfs")) }, true)
}

// A bind mount whose relative source leaves the bundle: a single file (/etc/hostname), so that a runtime that
// copies host files into the VM must refuse it for the escape itself. runc 1.1.5 joins the source onto the bundle
// and mounts it; issue 15 asks fc-supervisor to refuse a relative path that escapes the bundle.
func caseBadMountEscape(ctx context.Context, h *harness, r *record) {
	badBundle(ctx, h, r, "bad_mount_escape", func(b string) error {
		return editConfig(b, func(c map[string]any) {
			mounts, _ := c["mounts"].([]any)
			c["mounts"] = append(mounts, map[string]any{"destination": "/etc/escaped", "type": "bind",
				"source": "../../../../../../../../etc/hostname", "options": []any{"bind", "ro"}})
		})
	}, false)
}

// root.path relative and outside the bundle (a complete rootfs of another bundle): runc 1.1.5 uses it; issue 15
// asks fc-supervisor to refuse it.
func caseBadRootEscape(ctx context.Context, h *harness, r *record) {
	if _, err := h.bundle("bad_root_escape-other", nil, "true"); err != nil {
		r.fail("bundle: %v", err)
		return
	}
	badBundle(ctx, h, r, "bad_root_escape", func(b string) error {
		if err := os.RemoveAll(filepath.Join(b, "rootfs")); err != nil {
			return err
		}
		return editConfig(b, func(c map[string]any) {
			c["root"] = map[string]any{"path": "../bad_root_escape-other/rootfs", "readonly": true}
		})
	}, false)
}
