import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

/// Where a freeze stands (PROTOCOL.md §4.25–§4.30). Owned by the agent's loop thread.
final class SnapshotState {
    enum Phase { case stopping, flushing, frozen }
    var phase: Phase = .stopping
    /// The connection that asked; `frozen` goes to it.
    let requester: UInt64
    let method: FreezeMethod
    let started: UInt64
    var phaseStarted: UInt64
    let deadline: UInt64
    let timeoutMs: UInt32
    /// What has to be undone by a thaw.
    var frozenLeaves: [String] = []
    var stoppedGroups: [Int32] = []
    var frozenMounts: [String] = []
    var synced = false
    var timings = FreezeTimings(freeze: 0, sync: 0, fsfreeze: 0, flush: 0, total: 0)
    var timer: EventLoop.TimerID?
    /// ``Quiesce/clockOffsetMicroseconds()`` once frozen: another value later means the wall clock jumped while
    /// the guest was stopped, that is, this is a restored copy.
    var clockOffsetUs: Int64 = 0
    var restoreNoticed = false

    init(requester: UInt64, method: FreezeMethod, now: UInt64, timeoutMs: UInt32) {
        self.requester = requester
        self.method = method
        self.started = now
        self.phaseStarted = now
        self.timeoutMs = timeoutMs
        self.deadline = now + UInt64(timeoutMs) * 1_000_000
    }

    var isFrozen: Bool { phase == .frozen }
}

/// Microseconds between two `EventLoop.now()` readings.
private func micros(_ from: UInt64, _ to: UInt64) -> UInt64 { to >= from ? (to - from) / 1000 : 0 }

extension Agent {
    // MARK: - freeze

    /// Handles `freeze`: stops every session (cgroup freezer, else SIGSTOP), then (in ``advanceFreeze(_:)``)
    /// syncs, freezes writable disks, flushes all output and answers `frozen` in the bulk lane.
    func freeze(_ request: FreezeRequest, conn: FramedConnection) {
        if let state = snapshot {
            return sendError(conn, .invalidState, state.isFrozen ? "already frozen" : "a freeze is under way")
        }
        guard !shuttingDown else { return sendError(conn, .invalidState, "vm-init is shutting down") }
        let state = SnapshotState(requester: conn.id, method: cgroups.available ? .cgroup : .sigstop, now: EventLoop.now(),
                                  timeoutMs: request.timeoutMs ?? FreezeRequest.defaultTimeoutMs)
        snapshot = state
        if state.method == .cgroup {
            for directory in cgroups.allLeafDirectories {
                do {
                    try cgroups.setFrozen(directory, true)
                    state.frozenLeaves.append(directory)
                } catch {
                    Log.error("freeze: \(directory): \(error)")
                }
            }
        }
        // Sessions without a leaf (cgroups unavailable, or their leaf could not be made) stop by signal.
        for session in sessions.values where session.isRunning && (state.method == .sigstop || cgroups.directory(for: session.id) == nil) {
            do {
                try ChildProcess.signalGroup(session.pid, SIGSTOP)
                state.stoppedGroups.append(session.pid)
            } catch {
                Log.debug("freeze: session \(session.id): \(error)")
            }
        }
        Log.info("freeze: \(state.method) on \(state.frozenLeaves.count + state.stoppedGroups.count) session(s), up to \(state.timeoutMs) ms")
        advanceFreeze(state)
    }

    /// One step of a freeze, re-run every millisecond until it is frozen or the deadline passes.
    func advanceFreeze(_ state: SnapshotState) {
        guard snapshot === state, !state.isFrozen else { return }
        state.timer = nil
        guard let conn = connections[state.requester] else {
            Log.info("freeze: the connection that asked closed; thawing")
            thawAll(state)
            return
        }
        if state.phase == .stopping && everythingStopped(state) {
            let stopped = EventLoop.now()
            state.timings.freeze = micros(state.phaseStarted, stopped)
            SystemControl.sync()
            state.synced = true
            let synced = EventLoop.now()
            state.timings.sync = micros(stopped, synced)
            // FIFREEZE only in a VM: in a test namespace the mounts are the host's.
            if isInit && Quiesce.inInitialPIDNamespace() {
                for mount in Quiesce.writableBlockMounts() {
                    do {
                        try GuestControl.freezeFilesystem(mount)
                        state.frozenMounts.append(mount)
                    } catch {
                        Log.error("freeze: \(error)")
                    }
                }
            }
            state.phaseStarted = EventLoop.now()
            state.timings.fsfreeze = micros(synced, state.phaseStarted)
            state.phase = .flushing
        }
        if state.phase == .flushing && outputFlushed(requester: conn) {
            let now = EventLoop.now()
            state.timings.flush = micros(state.phaseStarted, now)
            state.timings.total = micros(state.started, now)
            state.phase = .frozen
            state.clockOffsetUs = Quiesce.clockOffsetMicroseconds()
            let live = sessions.values.filter { $0.isRunning }.sorted { $0.id < $1.id }
            let report = FrozenReport(
                method: state.method,
                sessions: live.map { FrozenSession(session: $0.id, pid: $0.pid, attached: $0.connectionID == conn.id) },
                fsfreeze: state.frozenMounts, sync: state.synced, timingsUs: state.timings)
            Log.info("frozen: \(live.count) live session(s), \(state.frozenMounts.count) file system(s), \(state.timings.total) µs")
            conn.send(.frozen(report))  // bulk lane: behind every output byte queued above
            return
        }
        if EventLoop.now() >= state.deadline {
            let step = state.phase == .stopping
                ? "the sessions did not stop"
                : "output is still queued (the host must keep granting window credit)"
            Log.error("freeze: not done within \(state.timeoutMs) ms: \(step); thawing")
            thawAll(state)
            return sendError(conn, .internal, "freeze did not finish within \(state.timeoutMs) ms: \(step)")
        }
        state.timer = loop.addTimer(after: .milliseconds(1)) { [unowned(unsafe) self] in self.advanceFreeze(state) }
    }

    /// Whether every frozen leaf reports `frozen 1` and every stopped group leader has stopped.
    func everythingStopped(_ state: SnapshotState) -> Bool {
        state.frozenLeaves.allSatisfy { cgroups.isFrozen($0) } && state.stoppedGroups.allSatisfy { Quiesce.hasStopped($0) }
    }

    /// Whether every byte the sessions produced has been handed to their connections (nothing pending, nothing
    /// left in a pipe or terminal, retained exits sent) and every other connection has written its queue, so
    /// that `frozen`, queued behind, reaches the host after all of it. Detached sessions keep their output
    /// buffered (it is in guest memory, and an `attach` after the restore delivers it).
    func outputFlushed(requester: FramedConnection) -> Bool {
        for session in sessions.values {
            guard let conn = attachedConnection(session) else { continue }
            if session.pendingBytes > 0 || (session.exitReport != nil && !session.exitSent) { return false }
            if session.outputs.values.contains(where: { ((try? $0.bytesAvailable()) ?? 0) > 0 }) { return false }
            if conn !== requester && conn.queuedBytes > 0 { return false }
        }
        return true
    }

    /// Undoes whatever a freeze did: file systems first (a thawed process may write at once), then processes.
    func thawAll(_ state: SnapshotState) {
        if let timer = state.timer { loop.cancelTimer(timer) }
        state.timer = nil
        for mount in state.frozenMounts.reversed() {
            do { try GuestControl.thawFilesystem(mount) } catch { Log.error("thaw: \(error)") }
        }
        for directory in state.frozenLeaves where Files.isDirectory(directory) {
            do { try cgroups.setFrozen(directory, false) } catch { Log.error("thaw: \(directory): \(error)") }
        }
        for group in state.stoppedGroups { try? ChildProcess.signalGroup(group, SIGCONT) }
        if snapshot === state { snapshot = nil }
    }

    // MARK: - thaw

    func thaw(conn: FramedConnection) {
        guard let state = snapshot, state.isFrozen else {
            return sendError(conn, .invalidState, snapshot == nil ? "not frozen" : "a freeze is under way")
        }
        thawAll(state)
        Log.info("thawed")
        conn.send(.thawed(ThawedReport()))
    }

    // MARK: - resume

    /// Handles `resume` in a restored guest: clock, RNG, identity, network, lost sessions, thaw, `resumed`.
    func resume(_ request: ResumeRequest, conn: FramedConnection) {
        guard let state = snapshot, state.isFrozen else {
            return sendError(conn, .invalidState, snapshot == nil ? "not frozen" : "a freeze is under way")
        }
        noticeRestore()
        let start = EventLoop.now()
        // Wall clock first: everything after (logs, the workload once thawed) sees the right time.
        var step: Int64?
        let before = SystemControl.wallClockNanoseconds()
        do {
            try setWallClock(request.unixNs)
            step = request.unixNs &- before
        } catch {
            Log.error("resume: wall clock not set: \(error)")
        }
        let clocked = EventLoop.now()
        var reseeded = false
        if let entropy = request.decodedEntropy {
            do {
                try reseedRandom(entropy)
                reseeded = true
            } catch {
                Log.error("resume: RNG not reseeded: \(error)")
            }
        }
        let seeded = EventLoop.now()
        if let hostname = request.hostname {
            if isInit {
                do { try SystemControl.setHostname(hostname) } catch { Log.error("resume: hostname: \(error)") }
            } else {
                Log.error("resume: hostname not set: vm-init is not PID 1")
            }
        }
        let named = EventLoop.now()
        if let network = request.network {
            if isInit {
                do {
                    let names = try NetworkSetup(etcDirectory: config.etcDirectory).apply(network)
                    Log.info("resume: network applied: \(names.joined(separator: ", "))")
                } catch {
                    Log.error("resume: network: \(error.message)")
                    sendError(conn, error.code, "resume: network: \(error.message)")
                }
            } else {
                sendError(conn, .invalidState, "resume: network configuration needs vm-init as PID 1")
            }
        }
        let networked = EventLoop.now()
        let keep = Set(request.keep ?? [])
        var lost: [SessionID] = []
        for session in sessions.values where session.isRunning && !keep.contains(session.id) {
            session.lost = ExitStatus.lostSnapshot
            // The whole leaf where there is one (grandchildren that left the group included), and the group.
            if let directory = cgroups.directory(for: session.id) { cgroups.kill(directory) }
            try? signal(session, SIGKILL)
            lost.append(session.id)
        }
        lost.sort()
        thawAll(state)
        let done = EventLoop.now()
        let timings = ResumeTimings(clock: micros(start, clocked), rng: micros(clocked, seeded), identity: micros(seeded, named),
                                    network: micros(named, networked), thaw: micros(networked, done), total: micros(start, done))
        Log.info("resumed: generation \(request.generation), clock step \(step.map { "\($0 / 1_000_000) ms" } ?? "none"), rng \(reseeded ? "reseeded" : "NOT reseeded"), lost \(lost), \(timings.total) µs")
        conn.send(.resumed(ResumedReport(generation: request.generation, clockStepNs: step, rngReseeded: reseeded,
                                         lost: lost, timingsUs: timings)))
    }

    /// While frozen, checks whether the wall clock jumped against CLOCK_BOOTTIME (the VMM restored this guest
    /// and moved its clock) and says so on the console once; a host connection that comes or goes while
    /// frozen is when to look. The host's `resume` does the work either way.
    func noticeRestore() {
        guard let state = snapshot, state.isFrozen, !state.restoreNoticed else { return }
        let jump = Quiesce.clockOffsetMicroseconds() - state.clockOffsetUs
        guard abs(jump) > 1_000_000 else { return }
        state.restoreNoticed = true
        Log.info("restore detected: the wall clock moved \(jump / 1000) ms against boot time while frozen")
    }
}
