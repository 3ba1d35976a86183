import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    // MARK: - Output

    func outputEvent(_ session: Session, _ stream: OutputStream, _ events: EventLoop.Events) {
        if session.tty && events.contains(.writable) { writeStdin(session) }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            readOutput(session, stream)
        }
    }

    /// Reads a session's output into its pending buffer (bounded), then hands it on under flow control.
    ///
    /// Past the drain deadline only what was buffered at the deadline is read; then one more read tells end of
    /// file (nothing lost) from a writer that still holds the output (a background grandchild): that output is
    /// cut, and whatever the holder writes later is lost, so the exit says `output_truncated`. A holder that
    /// never writes (`sleep 1000 &`) is cut too: nobody can know it will not write, and the flag must never be
    /// false when output was lost (PROTOCOL.md §4.12).
    func readOutput(_ session: Session, _ stream: OutputStream) {
        // Bytes in the pipe belong to a queued spliced frame: the pipe is not ours to read until they are moved.
        guard !isSplicing(session, stream) else { return }
        if spliceOutput(session, stream) { return }
        while let fd = session.outputs[stream], session.pendingBytes < pendingCap {
            var want = min(scratch.capacity, pendingCap - session.pendingBytes)
            if session.drainDeadlinePassed { want = min(want, max(session.drainBudget[stream] ?? 0, 1)) }
            let result: Int?
            do {
                result = try readChunk(session, stream, from: fd, upTo: want)
            } catch {
                // EIO on a pty master: every slave holder is gone. That is end of file.
                if error.errno != EIO { Log.debug("session \(session.id): read \(stream): \(error)") }
                closeOutput(session, stream)
                break
            }
            guard let n = result else {
                if session.drainDeadlinePassed { cutOutput(session, stream) }
                break
            }
            if n == 0 { closeOutput(session, stream); break }
            if session.drainDeadlinePassed {
                session.drainBudget[stream, default: 0] -= n
                // More than was buffered at the deadline: someone is still writing.
                if session.drainBudget[stream, default: 0] < 0 { cutOutput(session, stream); break }
            }
        }
        flushPending(session)
    }

    /// One read of a session's output into its pending queue; returns the count (0: end of file; nil: nothing
    /// to read). While the stream is busy (its last read filled what was asked) the read goes straight into a new
    /// pending chunk, so the bytes are never copied in user space; otherwise into the shared scratch buffer and
    /// copied behind the last chunk (small reads are merged into large frames, and an idle session never holds
    /// a large, mostly empty array).
    private func readChunk(_ session: Session, _ stream: OutputStream, from fd: FileDescriptor,
                           upTo want: Int) throws(SystemError) -> Int? {
        if session.outputBusy && want >= Self.directReadMinimum {
            // As large as the last read brought, doubling while reads fill what they ask: arrays come out full.
            let ask = min(want, max(session.outputReadSize, Self.directReadMinimum))
            var result: Result<Int?, SystemError> = .success(nil)
            var chunk = [UInt8](unsafeUninitializedCapacity: ask) { space, count in
                do throws(SystemError) {
                    let n = try fd.read(into: UnsafeMutableRawBufferPointer(space))
                    result = .success(n)
                    count = n ?? 0
                } catch {
                    result = .failure(error)
                    count = 0
                }
            }
            guard let n = try result.get(), n > 0 else { session.outputBusy = false; return try result.get() }
            session.outputBusy = n >= Self.directReadMinimum
            session.outputReadSize = n == ask ? 2 * ask : n
            // A short read would pin the whole allocation while it waits for credit: keep a right-sized copy.
            if n < ask / 2 { chunk = chunk.withUnsafeBufferPointer { Array($0) } }
            session.pending.append(chunk, tag: stream)
            return n
        }
        guard let n = try scratch.read(from: fd, upTo: want) else { session.outputBusy = false; return nil }
        session.outputBusy = n > 0 && n == want
        session.outputReadSize = 2 * n
        session.appendPending(stream, scratch.prefix(n))
        return n
    }

    /// Hands what waits in a session's output pipe to its connection as one frame whose payload the kernel moves
    /// from the pipe (`splice(2)`): vm-init neither reads nor copies those bytes. Only when nothing of the session
    /// waits in `pending` (order), before the drain deadline (whose accounting reads) and for pipes (a terminal
    /// cannot be spliced). At most one such frame per stream is queued; ``spliced(_:)`` takes the next.
    ///
    /// Without credit, or on a congested connection, the bytes wait in the pipe (its 256 KiB are the buffer)
    /// and the pipe is not polled until a `window` or the connection's drain re-arms it (``updateInterest(_:)``).
    /// Returns false when the read path must run instead: an empty pipe (end of file, or nothing yet), a
    /// detached session (its output is read into `pending`, bounded, as always).
    func spliceOutput(_ session: Session, _ stream: OutputStream) -> Bool {
        guard let conn = splicingConnection(session), let fd = session.outputs[stream],
              let available = try? fd.bytesAvailable(), available > 0 else { return false }
        guard conn.queuedBytes < congestionLimit, session.sendWindow.available > 0 else {
            updateInterest(session)
            return true
        }
        let count = session.sendWindow.take(upTo: min(available, conn.maxSplicedPayload))
        let ref = SessionRef(session: session.id)
        conn.send(stream == .stdout ? .stdout(ref) : .stderr(ref), splicing: count, from: fd)
        splicesInFlight[fd.rawValue] = (session.id, conn.id)
        updateInterest(session)
        return true
    }

    /// The connection a session's output pipes are spliced to, when they are: pipes (not a terminal), splicing
    /// on, attached, nothing read ahead in `pending` (it goes first), before the drain deadline.
    func splicingConnection(_ session: Session) -> FramedConnection? {
        guard config.spliceOutput, !session.tty, session.pendingBytes == 0, !session.drainDeadlinePassed else { return nil }
        return attachedConnection(session)
    }

    /// Whether the stream's pipe holds bytes of a queued spliced frame: nobody reads it until they are moved.
    func isSplicing(_ session: Session, _ stream: OutputStream) -> Bool {
        session.outputs[stream].map { splicesInFlight[$0.rawValue] != nil } ?? false
    }

    /// A connection moved a spliced frame's payload out of `source`: the pipe is readable again.
    func spliced(_ source: FileDescriptor) {
        guard let (id, _) = splicesInFlight.removeValue(forKey: source.rawValue), let session = sessions[id],
              let stream = session.outputs.first(where: { $0.value == source })?.key else { return }
        readOutput(session, stream)
    }

    /// A connection closed with spliced frames queued: what it did not move stays in the pipes, which are read
    /// (or spliced to the next attached connection) as usual.
    func abandonSplices(on connection: UInt64) {
        for (source, entry) in splicesInFlight where entry.connection == connection {
            splicesInFlight[source] = nil
            if let session = sessions[entry.session] { updateInterest(session) }
        }
    }

    /// Reads at least this large may go straight into their own chunk.
    static let directReadMinimum = 16 * 1024

    /// Closes an output that a live writer still holds, past the drain deadline: its later output is lost.
    func cutOutput(_ session: Session, _ stream: OutputStream) {
        session.truncated = true
        closeOutput(session, stream)
    }

    func closeOutput(_ session: Session, _ stream: OutputStream) {
        guard let fd = session.outputs.removeValue(forKey: stream) else { return }
        loop.unregister(fd)
        fd.close()
        if session.tty { session.stdinDone = true; session.stdin.removeAll() }
        checkFinished(session)
    }

    /// Moves pending output to the attached connection as far as credit and the connection allow; sends the
    /// exit when nothing is left. Re-arms reads. (The connection writes it all once, at the end of the turn.)
    func flushPending(_ session: Session) {
        if let conn = attachedConnection(session) {
            while session.pendingBytes > 0 && conn.queuedBytes < congestionLimit {
                let want = min(session.nextPendingCount, conn.maxPayload)
                let credit = session.sendWindow.take(upTo: want)
                guard credit > 0, let (stream, bytes) = session.takePending(upTo: credit) else { break }
                let ref = SessionRef(session: session.id)
                // The slice shares the pending chunk's storage: the connection keeps it until written (no copy).
                conn.send(stream == .stdout ? .stdout(ref) : .stderr(ref), payload: bytes)
            }
            trySendExit(session, conn)
        }
        if sessions[session.id] === session { updateInterest(session) }
    }

    /// Sets each of the session's descriptors' epoll interest from its state.
    func updateInterest(_ session: Session) {
        var readWanted = session.pendingBytes < pendingCap
        // Spliced output without credit or room waits in its pipe (``spliceOutput(_:_:)``).
        if let conn = splicingConnection(session), session.sendWindow.available == 0 || conn.queuedBytes >= congestionLimit {
            readWanted = false
        }
        for (stream, fd) in session.outputs {
            var interest: EventLoop.Interest = readWanted && !isSplicing(session, stream) ? .read : []
            if session.tty && stream == .stdout && !session.stdinDone && session.stdinPending > 0 { interest.insert(.write) }
            try? loop.modify(fd, interest: interest)
        }
        if let fd = session.stdinFD {
            try? loop.modify(fd, interest: session.stdinPending > 0 ? .write : [])
        }
    }

    // MARK: - Exit

    /// The one reaper: waitpid(-1, WNOHANG) until nothing is left. Orphans are reaped and forgotten.
    func reap() {
        defer { cgroups.sweep() }  // a reaped orphan may have been the last process of a finished session's leaf
        while true {
            let result: (pid: Int32, termination: ProcessTermination)?
            do { result = try ChildProcess.wait(pid: -1, nonBlocking: true) } catch { return }
            guard let (pid, termination) = result else { return }
            if let id = sessionByPID.removeValue(forKey: pid), let session = sessions[id] {
                processExited(session, termination)
            } else {
                orphansReaped += 1
            }
        }
    }

    func processExited(_ session: Session, _ termination: ProcessTermination) {
        session.termination = termination
        cgroups.release(session.id)
        if let t = session.timeoutTimer { loop.cancelTimer(t); session.timeoutTimer = nil }
        if case .signaled(SIGKILL, _) = termination, !session.sigkillSent {
            lookForOOMKill(session, looksLeft: Self.oomLooks)
        }
        Log.debug("session \(session.id): pid \(session.pid) ended \(termination)")
        if !session.outputs.isEmpty {
            session.drainTimer = loop.addTimer(after: .milliseconds(Int64(clamping: config.drainMs))) { [unowned(unsafe) self] in
                self.drainDeadline(session)
            }
        }
        checkFinished(session)
    }

    /// Sends `signal` to the session's process group. A SIGKILL is remembered: its exit is vm-init's doing, not
    /// the OOM killer's, and is reported without looking for OOM evidence.
    func signal(_ session: Session, _ signal: Int32) throws(SystemError) {
        if signal == SIGKILL { session.sigkillSent = true }
        try ChildProcess.signalGroup(session.pid, signal)
    }

    /// How many more times, `oomLookInterval` apart, a SIGKILL exit looks for the OOM killer's evidence.
    static let oomLooks = 8
    static let oomLookInterval: Duration = .milliseconds(25)

    /// Sets `oomKilled` when the OOM killer ended the session. The kernel sends its SIGKILL before it counts and
    /// logs the kill (`__oom_kill_process`), so a reap on another CPU can come first: without evidence, look again
    /// up to `looksLeft` times (200 ms in all; a busy host can stall the killing vCPU) while the exit waits.
    /// Only SIGKILLs that vm-init did not send get here.
    func lookForOOMKill(_ session: Session, looksLeft: Int) {
        session.oomLookTimer = nil
        if oomEvidence(session.pid, session.oomBaseline) {
            session.oomKilled = true
        } else if looksLeft > 0 {
            session.oomLookTimer = loop.addTimer(after: Self.oomLookInterval) { [unowned(unsafe) self] in
                guard self.sessions[session.id] === session else { return }
                self.lookForOOMKill(session, looksLeft: looksLeft - 1)
                self.checkFinished(session)
            }
        }
    }

    /// The drain deadline passed with output still open (something else holds it): read only what is buffered
    /// now, then close.
    func drainDeadline(_ session: Session) {
        session.drainTimer = nil
        guard sessions[session.id] === session, !session.outputs.isEmpty else { return }
        session.drainDeadlinePassed = true
        for (stream, fd) in session.outputs {
            // Bytes of a queued spliced frame are in the pipe too, but they are already on their way.
            let spliced = splicesInFlight[fd.rawValue].flatMap { connections[$0.connection] }?.splicedBytesQueued(from: fd) ?? 0
            session.drainBudget[stream] = max(0, ((try? fd.bytesAvailable()) ?? 0) - spliced)
        }
        for stream in Array(session.outputs.keys) { readOutput(session, stream) }
    }

    /// Builds the exit once the process is reaped and every output is closed.
    func checkFinished(_ session: Session) {
        guard let termination = session.termination, session.outputs.isEmpty, session.oomLookTimer == nil,
              session.exitReport == nil else { return }
        if let t = session.drainTimer { loop.cancelTimer(t); session.drainTimer = nil }
        if let fd = session.stdinFD { loop.unregister(fd); fd.close(); session.stdinFD = nil }
        session.stdinDone = true
        var status = ExitStatus()
        switch termination {
        case .exited(let code): status.code = code
        case .signaled(let signal, let core): status.signal = signal; status.coreDumped = core
        }
        status.oomKilled = session.oomKilled
        status.outputTruncated = session.truncated
        status.lost = session.lost
        session.exitReport = ExitReport(session: session.id, status: status)
        if let conn = attachedConnection(session) { trySendExit(session, conn) }
    }

    /// Sends the retained exit on `conn` once all of the session's output has been queued ahead of it.
    func trySendExit(_ session: Session, _ conn: FramedConnection) {
        guard let report = session.exitReport, !session.exitSent, session.pendingBytes == 0 else { return }
        session.exitSent = true
        conn.send(.exit(report))  // `exit` is bulk: it stays behind the session's output already queued
    }

    func closeAllDescriptors(_ session: Session) {
        for fd in session.outputs.values { loop.unregister(fd); fd.close() }
        session.outputs = [:]
        if let fd = session.stdinFD { loop.unregister(fd); fd.close(); session.stdinFD = nil }
    }
}
