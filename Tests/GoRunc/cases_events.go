package main

import (
	"context"
	"sort"
	"time"
)

// oom: a workload that exceeds its memory limit (64 MiB, no swap). go-runc's Events stream (interval 1 s) must
// carry an `oom` event within 120 s, and the pid-file process exits 137 (the OOM killer's SIGKILL). In a VM
// without swap the guest kernel used to thrash file-backed pages first (6 to over 165 s); with the multi-gen LRU
// and vm-init's min_ttl_ms the whole case took 3.8 to 4.0 s in 14 runs on 2026-12-01.
func caseOOM(ctx context.Context, h *harness, r *record) {
	s := h.create(ctx, r, "oom", "c", []string{"--memory", "67108864"}, "memhog")
	if s == nil {
		return
	}
	defer s.out.close()
	s.out.closeStdin()
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := h.rc.Events(ectx, s.id, time.Second)
	r.set("events_call", errInfo(err))
	if err != nil {
		return
	}
	if err := h.rc.Start(ctx, s.id); err != nil {
		r.fail("start: %v", err)
		return
	}
	types := map[string]int{}
	oom := false
	deadline := time.After(120 * time.Second)
loop:
	for !oom {
		select {
		case e, ok := <-events:
			if !ok {
				break loop
			}
			types[e.Type]++
			if e.Type == "oom" {
				oom = true
				r.set("oom_event_id", e.ID == s.id)
			}
		case <-deadline:
			break loop
		}
	}
	cancel()
	status, err := waitPid(s.pid, 30*time.Second)
	if err != nil {
		r.fail("wait: %v", err)
	}
	var seen []string
	for t := range types {
		seen = append(seen, t)
	}
	sort.Strings(seen)
	r.set("oom_seen", oom)
	r.set("event_types", seen)
	r.set("pid_exit", status)
	r.set("status_after", h.waitStatus(ctx, s.id, "stopped", 10*time.Second))
	r.expect("oom seen", oom, true)
	r.expect("pid-file process exit", status, 137)
}
