package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	runc "github.com/containerd/go-runc"
)

// bundle makes DIR/<name> with scripts/oci-bundle.sh; opts go before `--`, then the process args.
func (h *harness) bundle(name string, opts []string, args ...string) (string, error) {
	dir := filepath.Join(h.bundleDir, name)
	argv := append([]string{dir}, opts...)
	if h.hog != "" {
		argv = append(argv, "--helper", h.hog)
	}
	argv = append(append(argv, "--"), args...)
	out, err := exec.Command(h.script, argv...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", h.script, err, out)
	}
	return dir, nil
}

// editConfig rewrites a bundle's config.json through a generic map (a bad bundle may not fit specs.Spec).
func editConfig(bundle string, edit func(map[string]any)) error {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	edit(c)
	data, err = json.MarshalIndent(c, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// captured is a go-runc PipeIO whose stdout and stderr are read to EOF in the background.
type captured struct {
	io             runc.IO
	stdout, stderr syncBuffer
	done           chan struct{}
}

// syncBuffer: a bytes.Buffer read while the copying goroutine writes to it (to wait for a workload's "ready").
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until the stdout so far contains s, at most d.
func (c *captured) waitFor(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(c.stdout.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func newCaptured(uid, gid int) (*captured, error) {
	pio, err := runc.NewPipeIO(uid, gid)
	if err != nil {
		return nil, err
	}
	c := &captured{io: pio, done: make(chan struct{})}
	n := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(&c.stdout, pio.Stdout()); n <- struct{}{} }()
	go func() { _, _ = io.Copy(&c.stderr, pio.Stderr()); n <- struct{}{} }()
	go func() { <-n; <-n; close(c.done) }()
	return c, nil
}

// closeStdin gives the workload end-of-file on its stdin (nobody here writes to it).
func (c *captured) closeStdin() { _ = c.io.Stdin().Close() }

// wait waits until both output pipes reached EOF (every holder of their write ends exited), at most d.
func (c *captured) wait(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (c *captured) close() { _ = c.io.Close() }

// errInfo describes a go-runc error the way a worker sees it: the runtime's exit status and its own words.
// go-runc 1.0 formats calls without IO as "<command> did not terminate successfully: exit status N: <stdout+stderr>"
// (with %s, so the ExitError is not always reachable through errors.As): exit and msg come from that text. The
// command's path is left out (it differs by design).
func errInfo(err error) map[string]any {
	if err == nil {
		return map[string]any{"ok": true}
	}
	m := map[string]any{"ok": false}
	text := strings.TrimSpace(err.Error())
	var ee *runc.ExitError
	if errors.As(err, &ee) {
		m["exit"] = ee.Status
	}
	if i := strings.Index(text, "exit status "); i >= 0 {
		rest := text[i+len("exit status "):]
		j := strings.IndexFunc(rest, func(c rune) bool { return c < '0' || c > '9' })
		if j < 0 {
			j = len(rest)
		}
		if n, perr := strconv.Atoi(rest[:j]); perr == nil {
			m["exit"] = n
		}
		m["msg"] = strings.TrimSpace(strings.TrimPrefix(rest[j:], ":"))
	} else {
		m["msg"] = text
	}
	return m
}

// logMark and logErrors: the `level=error` messages the runtime appended to its --log file since the mark, read as
// containerd does (a JSON stream; `time` must parse as RFC3339).
func (h *harness) logMark() int64 {
	st, err := os.Stat(h.logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (h *harness) logErrors(mark int64) (msgs []string, badLines int) {
	f, err := os.Open(h.logPath)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return nil, 0
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Level string    `json:"level"`
			Msg   string    `json:"msg"`
			Time  time.Time `json:"time"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			badLines++
			continue
		}
		if line.Level == "error" {
			msgs = append(msgs, line.Msg)
		}
	}
	return msgs, badLines
}

// waitPid waits (we are a subreaper) for the pid-file process and returns its status as a shell reports it:
// the exit code, or 128+n for signal n. -1 with an error when it is not our descendant or the wait timed out.
func waitPid(pid int, d time.Duration) (int, error) {
	if pid <= 0 { // Wait4(0 or -1) would reap any child, one of os/exec's runtime processes included
		return -1, fmt.Errorf("no pid to wait for (%d)", pid)
	}
	type res struct {
		status int
		err    error
	}
	ch := make(chan res, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				ch <- res{-1, err}
				return
			}
			break
		}
		switch {
		case ws.Exited():
			ch <- res{ws.ExitStatus(), nil}
		case ws.Signaled():
			ch <- res{128 + int(ws.Signal()), nil}
		default:
			ch <- res{-1, fmt.Errorf("unexpected wait status %v", ws)}
		}
	}()
	select {
	case r := <-ch:
		return r.status, r.err
	case <-time.After(d):
		return -1, fmt.Errorf("pid %d still running after %s", pid, d)
	}
}

// listed: the container ids `list` shows, sorted, and whether id is among them.
func (h *harness) listed(ctx context.Context, id string) (ids []string, present bool, err error) {
	list, err := h.rc.List(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, c := range list {
		ids = append(ids, c.ID)
		if c.ID == id {
			present = true
		}
	}
	sort.Strings(ids)
	return ids, present, nil
}

// leftovers: what a failed create may have left: a `list` entry or a state directory under --root.
func (h *harness) leftovers(ctx context.Context, id string) map[string]any {
	_, present, err := h.listed(ctx, id)
	m := map[string]any{"listed": present}
	if err != nil {
		m["list_error"] = err.Error()
	}
	_, statErr := os.Stat(filepath.Join(h.root, id))
	m["state_dir"] = statErr == nil
	m["processes"] = processesNaming(id)
	return m
}

// processesNaming counts live processes whose command line contains s (a leftover runtime, supervisor or VMM
// names the container id in its arguments or state paths). Zombies have an empty command line and do not count.
func processesNaming(s string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	self := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range entries {
		if e.Name() == self || e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			n++
		}
	}
	return n
}

// statusOf is `state`'s status, or "error: <msg>".
func (h *harness) statusOf(ctx context.Context, id string) (string, *runc.Container) {
	c, err := h.rc.State(ctx, id)
	if err != nil {
		return "error: " + errInfo(err)["msg"].(string), nil
	}
	return c.Status, c
}

// waitStatus polls `state` until it reports want (or an error), at most d.
func (h *harness) waitStatus(ctx context.Context, id, want string, d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		s, _ := h.statusOf(ctx, id)
		if s == want || strings.HasPrefix(s, "error") || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}
