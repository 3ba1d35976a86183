// go-runc-conformance drives an OCI runtime ONLY through containerd's go-runc, the way a worker does, and records
// every observable result in a JSON file, so that runc and fc-supervisor can be compared field by field
// (compare.py; the field lists are in README.md).
//
//	go-runc-conformance -runtime PATH -root DIR -bundle-dir DIR -out FILE.json [-cases a,b] [-n 7]
//
// Each case makes its own bundles under -bundle-dir with scripts/oci-bundle.sh, runs under its own timeout, and
// cleans up with `delete --force`; a failing case records why and the others still run. The exit code is 1 when a
// case failed or one of runc's known answers (the `expect` checks) was not met, so the run against runc is the
// test of this program and the run against fc-supervisor is compared against it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	runc "github.com/containerd/go-runc"
)

type caseFunc func(ctx context.Context, h *harness, r *record)

type caseDef struct {
	name    string
	timeout time.Duration
	run     caseFunc
}

// Every case, in the order they run. Names are the top-level keys of the output and of README.md's field paths.
var cases = []caseDef{
	{"version", 20 * time.Second, caseVersion},
	{"run_exit0", 90 * time.Second, caseRunExit0},
	{"run_exit3", 90 * time.Second, caseRunExit3},
	{"run_exit137", 90 * time.Second, caseRunExit137},
	{"run_self_kill_init", 90 * time.Second, caseRunSelfKillInit},
	{"run_missing_cmd", 90 * time.Second, caseRunMissingCmd},
	{"lifecycle", 120 * time.Second, caseLifecycle},
	{"exec", 180 * time.Second, caseExec},
	{"kill_term", 90 * time.Second, caseKillTerm},
	{"kill_all", 90 * time.Second, caseKillAll},
	{"oom", 210 * time.Second, caseOOM},
	{"errors", 90 * time.Second, caseErrors},
	{"delete_force", 90 * time.Second, caseDeleteForce},
	{"bad_no_config", 60 * time.Second, caseBadNoConfig},
	{"bad_invalid_json", 60 * time.Second, caseBadInvalidJSON},
	{"bad_oci_version", 60 * time.Second, caseBadOCIVersion},
	{"bad_missing_rootfs", 60 * time.Second, caseBadMissingRootfs},
	{"bad_mount_escape", 60 * time.Second, caseBadMountEscape},
	{"bad_root_escape", 60 * time.Second, caseBadRootEscape},
	{"latency", 300 * time.Second, caseLatency},
}

func main() {
	runtimePath := flag.String("runtime", "runc", "the runtime binary (go-runc's Runc.Command)")
	root := flag.String("root", "/var/tmp/oci-conformance", "the runtime's --root state directory")
	bundleDir := flag.String("bundle-dir", "", "a scratch directory for the bundles (created; emptied first)")
	out := flag.String("out", "", "where to write the results (JSON)")
	script := flag.String("bundle-script", "scripts/oci-bundle.sh", "the bundle maker")
	helper := flag.String("memhog", "", "the static memhog binary to put in bundles (built from Tests/GoRunc/memhog)")
	only := flag.String("cases", "", "comma-separated case names to run (default: all)")
	n := flag.Int("n", 7, "runs for the latency medians (exec round trip; create+start after the first two)")
	vm := flag.Bool("vm", false, "the runtime runs each container in a VM (the workload is not its pid namespace's init)")
	flag.Parse()
	if *bundleDir == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: go-runc-conformance -runtime PATH -root DIR -bundle-dir DIR -out FILE.json")
		os.Exit(2)
	}
	// Like containerd's shim: a subreaper, so that the process named by --pid-file (reparented to us when the
	// runtime's create exits) can be waited for and its exit status read, as a worker does.
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_CHILD_SUBREAPER):", e)
		os.Exit(1)
	}
	runc.Monitor = lazyMonitor{}
	h, err := newHarness(*runtimePath, *root, *bundleDir, *script, *helper, *n)
	if h != nil {
		h.vm = *vm
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	selected := map[string]bool{}
	for _, c := range strings.Split(*only, ",") {
		if c != "" {
			selected[c] = true
		}
	}
	results := map[string]any{}
	bad := 0
	for _, c := range cases {
		if len(selected) > 0 && !selected[c.name] {
			continue
		}
		r := h.runCase(c)
		fields, problems := r.close()
		results[c.name] = fields
		status := "ok"
		if len(problems) > 0 {
			status = "FAILED: " + strings.Join(problems, "; ")
			bad++
		}
		fmt.Fprintf(os.Stderr, "[go-runc] %-20s %6.2fs %s\n", c.name, r.seconds, status)
	}
	doc := map[string]any{"runtime": *runtimePath, "root": *root, "cases": results}
	data, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "[go-runc] %d case(s) failed; results in %s\n", bad, *out)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "[go-runc] all cases passed; results in %s\n", *out)
}

// record is one case's output: observable results (fields) plus what went wrong (problems: a call that failed
// unexpectedly, a timeout, or an answer that differs from runc's known one).
// A case that overran its timeout may still be running when the results are written: after `closed` its writes
// are dropped (mu guards fields and problems).
type record struct {
	mu       sync.Mutex
	closed   bool
	fields   map[string]any
	problems []string
	seconds  float64
}

func (r *record) set(key string, value any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.fields[key] = value
	}
}

// get reads a field the case itself set (for its expectations).
func (r *record) get(key string) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fields[key]
}

func (r *record) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

// close ends the case's writes, records the problems among the fields and returns them.
func (r *record) close() (map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if len(r.problems) > 0 {
		sort.Strings(r.problems)
		r.fields["problems"] = r.problems
	}
	return r.fields, r.problems
}

// expect records a mismatch with runc's known answer (from the contract and runc 1.1.5 itself).
func (r *record) expect(what string, got, want any) {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		r.fail("%s: got %s, want %s", what, g, w)
	}
}

type harness struct {
	rc                           *runc.Runc
	root, bundleDir, script, hog string
	logPath                      string
	n                            int
	// vm: the workload is a child of the guest's init, not the init of a pid namespace (see run_self_kill_init).
	vm bool
}

func newHarness(runtimePath, root, bundleDir, script, hog string, n int) (*harness, error) {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	bundleDir, script, root = abs(bundleDir), abs(script), abs(root)
	if hog != "" {
		hog = abs(hog)
	}
	if err := os.RemoveAll(bundleDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(bundleDir, "log.json")
	// Exactly the fields containerd's shim sets (--root, --log, --log-format json), plus a kill on our death.
	rc := &runc.Runc{Command: runtimePath, Root: root, Log: logPath, LogFormat: runc.JSON,
		PdeathSignal: syscall.SIGKILL}
	return &harness{rc: rc, root: root, bundleDir: bundleDir, script: script, hog: hog, logPath: logPath, n: n}, nil
}

func (h *harness) runCase(c caseDef) *record {
	r := &record{fields: map[string]any{}}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.fail("panic: %v", p)
			}
		}()
		c.run(ctx, h, r)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The runtime calls were started with ctx, so they are being killed; give the case a moment to return.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		r.fail("timed out after %s", c.timeout)
	}
	r.seconds = time.Since(start).Seconds()
	h.cleanup(c.name)
	return r
}

// cleanup removes every container this case may have left (ids start with the case name), with its own timeout.
func (h *harness) cleanup(caseName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := h.rc.List(ctx)
	if err != nil {
		return
	}
	for _, c := range list {
		if strings.HasPrefix(c.ID, idFor(caseName, "")) {
			_ = h.rc.Delete(ctx, c.ID, &runc.DeleteOpts{Force: true})
		}
	}
}

// idFor is the container id of a case's step: the same for every runtime, so error texts that name it compare.
func idFor(caseName, step string) string {
	return "gr-" + strings.ReplaceAll(caseName, "_", "-") + "-" + step
}
