import LinuxSystem
import VsockTransport
import VsockProtocol

/// Receives what the guest says about one session.
protocol GuestSessionDelegate: AnyObject {
    func guestSessionStarted(_ session: GuestSession, pid: Int32)
    func guestSessionStartFailed(_ session: GuestSession, _ failure: StartFailed)
    /// Output bytes. The delegate calls ``GuestSession/outputConsumed(_:)`` once it has passed them on.
    func guestSession(_ session: GuestSession, output bytes: [UInt8], stderr: Bool)
    func guestSessionExited(_ session: GuestSession, _ status: ExitStatus)
    /// The guest granted stdin credit (``GuestSession/stdinCredit`` grew).
    func guestSessionStdinCredit(_ session: GuestSession)
    func guestSessionError(_ session: GuestSession, _ error: ErrorMessage)
    /// The guest connection is gone; no exit will come.
    func guestSessionLost(_ session: GuestSession)
}

/// One exec session on the guest connection, as the host sees it.
final class GuestSession {
    let id: SessionID
    weak var delegate: (any GuestSessionDelegate)?
    fileprivate unowned let mux: GuestMux
    /// Credit we give the guest for this session's stdout+stderr.
    fileprivate var outputWindow: ReceiveWindow
    /// Credit the guest gave us for this session's stdin.
    fileprivate var stdinWindow: SendWindow
    private(set) var pid: Int32?
    private(set) var finished = false

    fileprivate init(id: SessionID, mux: GuestMux, outputWindow: UInt32, stdinWindow: UInt32) {
        self.id = id
        self.mux = mux
        self.outputWindow = ReceiveWindow(window: outputWindow)
        self.stdinWindow = SendWindow(initial: stdinWindow)
    }

    /// Stdin bytes we may send now, in one frame: the guest's credit, at most its `max_payload` (PROTOCOL.md §5.2).
    var stdinCredit: Int { finished ? 0 : min(Int(stdinWindow.available), mux.guestMaxPayload) }

    /// Sends up to `stdinCredit` bytes of `bytes`; returns how many were sent.
    @discardableResult
    func sendStdin(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !finished else { return 0 }
        let n = stdinWindow.take(upTo: min(bytes.count, mux.guestMaxPayload))
        guard n > 0 else { return 0 }
        mux.connection.send(.stdin(SessionRef(session: id)), payload: UnsafeRawBufferPointer(rebasing: bytes[..<n]))
        mux.counters.bytesOut += UInt64(n)
        return n
    }

    /// Sends up to `stdinCredit` bytes of `bytes`; a whole array is queued as it is (no copy).
    @discardableResult
    func sendStdin(_ bytes: [UInt8]) -> Int {
        guard !finished else { return 0 }
        let n = stdinWindow.take(upTo: min(bytes.count, mux.guestMaxPayload))
        guard n > 0 else { return 0 }
        mux.connection.send(.stdin(SessionRef(session: id)), payload: bytes[..<n])
        mux.counters.bytesOut += UInt64(n)
        return n
    }

    func closeStdin() { if !finished { mux.connection.send(.stdinClose(SessionRef(session: id))) } }
    func signal(_ signal: Int32) { if !finished { mux.connection.send(.signal(SignalRequest(session: id, signal: signal))) } }
    func resize(rows: UInt16, cols: UInt16) {
        if !finished { mux.connection.send(.resize(ResizeRequest(session: id, rows: rows, cols: cols))) }
    }

    /// The delegate passed `count` output bytes on: give the guest that much credit back (batched).
    func outputConsumed(_ count: Int) {
        guard !finished, let grant = outputWindow.consume(count) else { return }
        mux.connection.send(.window(WindowUpdate(session: id, bytes: grant)))
    }

    fileprivate func markStarted(pid: Int32) { self.pid = pid }
    fileprivate func markFinished() { finished = true }
}

/// The guest's answer to a setup request (`network`, `container`): they are sent one at a time, before the
/// workload, so one pending answer is all there is.
enum GuestSetupReply {
    case networkApplied(NetworkApplied)
    case containerReady(ContainerReady)
    case refused(ErrorMessage)
}

/// The one multiplexed connection to vm-init: hello exchange, session table, frame dispatch.
///
/// Everything from the guest is hostile input: frames for unknown sessions, credit violations, duplicate
/// exits and unexpected message types are answered or ignored, never trusted; memory per session is bounded
/// by the output window we grant.
final class GuestMux {
    let connection: FramedConnection
    private(set) var guestHello: Hello?
    private var sessions: [SessionID: GuestSession] = [:]
    private var nextSessionID: SessionID = 1
    private var nextPingID: UInt64 = 1
    private var pendingPings: [UInt64: UInt64] = [:]
    private var pingCompletions: [UInt64: (UInt64) -> Void] = [:]
    private var statsCompletions: [UInt64: (StatsReport) -> Void] = [:]
    /// Sessions opened, started and failed to start, and stdio bytes from and to the guest (the metrics).
    fileprivate(set) var counters = (opened: UInt64(0), started: UInt64(0), failed: UInt64(0), bytesIn: UInt64(0), bytesOut: UInt64(0))
    /// The pending `network` request's completion (one at a time).
    private var onSetupReply: ((GuestSetupReply) -> Void)?
    /// The pending snapshot request's completion (`freeze`, `thaw` or `resume`; one at a time).
    private var onSnapshotReply: ((Result<Message, ErrorMessage>) -> Void)?
    /// Our announced per-session output window.
    let outputWindow: UInt32
    /// Called once, when the guest's `hello` arrives.
    var onReady: (Hello) -> Void = { _ in }
    /// Called once, when the connection is gone.
    var onClosed: (SystemError?) -> Void = { _ in }
    /// Diagnostics about misbehaving guests (rate-limited by the caller if needed).
    var onWarning: (String) -> Void = { _ in }

    init(connection: FramedConnection, outputWindow: UInt32 = ProtocolConstants.streamWindow) {
        self.connection = connection
        self.outputWindow = outputWindow
        // PROTOCOL.md §7: the guest's hello first, role `guest`, our version; a second hello is refused.
        connection.enforce(ConnectionState(ownRole: .host))
        connection.onFrame = { [unowned self] frame in self.handle(frame) }
        connection.onProtocolError = { [unowned self] error in self.onWarning("guest sent a bad frame: \(error)") }
        connection.onRefused = { [unowned self] message, error in
            self.onWarning("refused the guest's \(message.type): \(error.code): \(error.message)")
        }
        connection.onClose = { [unowned self] error in self.closed(error) }
    }

    /// Sends our hello. Call once, right after the connection starts.
    func sendHello() {
        connection.send(.hello(Hello(role: .host, agent: "fc-supervisor/0.1", capabilities: ["pty", "attach"],
                                     window: outputWindow, wallClockNs: SystemControl.wallClockNanoseconds())))
    }

    var isReady: Bool { guestHello != nil && !connection.isClosed }
    /// The largest payload the guest accepts in one frame (its `hello.limits`).
    var guestMaxPayload: Int { (guestHello?.limits ?? .default).payloadPerFrame }
    var liveSessionCount: Int { sessions.count }

    /// Starts a session. `request.session` is replaced by a fresh id.
    func exec(_ request: ExecRequest, delegate: any GuestSessionDelegate) -> GuestSession {
        var request = request
        while sessions[nextSessionID] != nil || nextSessionID == 0 { nextSessionID &+= 1 }
        request.session = nextSessionID
        nextSessionID &+= 1
        let session = GuestSession(id: request.session, mux: self, outputWindow: outputWindow,
                                   stdinWindow: guestHello?.window ?? ProtocolConstants.defaultWindow)
        session.delegate = delegate
        sessions[session.id] = session
        counters.opened += 1
        connection.send(.exec(request))
        return session
    }

    /// Takes over a session that already runs in the guest (a restored VM's workload): `attach` routes its
    /// output and exit to this connection.
    func attach(_ id: SessionID, delegate: any GuestSessionDelegate) -> GuestSession {
        let session = GuestSession(id: id, mux: self, outputWindow: outputWindow,
                                   stdinWindow: guestHello?.window ?? ProtocolConstants.defaultWindow)
        session.delegate = delegate
        sessions[id] = session
        if nextSessionID <= id { nextSessionID = id &+ 1 }
        connection.send(.attach(SessionRef(session: id)))
        return session
    }

    /// New sessions get ids above `id` (a restored guest still holds the ids its lost sessions had).
    func reserveSessionIDs(through id: SessionID) {
        if nextSessionID <= id { nextSessionID = id &+ 1 }
    }

    /// Sends a snapshot request; `completion` gets the guest's answer (`frozen`, `thawed`, `resumed`) or the
    /// session-less `error` it sent instead.
    func snapshotRequest(_ message: Message, completion: @escaping (Result<Message, ErrorMessage>) -> Void) {
        onSnapshotReply = completion
        connection.send(message)
    }

    /// Ends every live session but `except` with `status`, as if the guest had sent it (a checkpoint that stops
    /// the VM: their clients learn they were lost to the snapshot).
    func endSessions(except: SessionID?, with status: ExitStatus) {
        for session in Array(sessions.values) where session.id != except {
            finish(session)
            session.delegate?.guestSessionExited(session, status)
        }
    }

    /// Sends a ping; `completion` gets the round-trip time in nanoseconds. Returns the ping's id.
    @discardableResult
    func ping(_ completion: @escaping (UInt64) -> Void) -> UInt64 {
        let id = nextPingID
        nextPingID += 1
        pendingPings[id] = EventLoop.now()
        pingCompletions[id] = completion
        connection.send(.ping(Ping(id: id)))
        return id
    }

    /// Asks vm-init for a `stats_report` (PROTOCOL.md §4.31); `completion` gets it. Returns the request's id.
    @discardableResult
    func stats(_ completion: @escaping (StatsReport) -> Void) -> UInt64 {
        let id = nextPingID
        nextPingID += 1
        statsCompletions[id] = completion
        connection.send(.stats(StatsRequest(id: id)))
        return id
    }

    /// Forgets a stats request nobody waits for any more (its late report is ignored).
    func cancelStats(_ id: UInt64) { statsCompletions[id] = nil }

    /// Forgets a ping nobody waits for any more; its late `pong` is then ignored.
    func cancelPing(_ id: UInt64) {
        pendingPings[id] = nil
        pingCompletions[id] = nil
    }

    /// Sends a `network` configuration; `completion` gets the guest's `network_applied`, or the first
    /// session-less `error` that follows (the guest answers every `network` with exactly one of them).
    func configureNetwork(_ config: NetworkConfig, completion: @escaping (GuestSetupReply) -> Void) {
        setUp(.network(config), completion: completion)
    }

    /// Asks vm-init to make the container's root the root of every later process (PROTOCOL.md `container`).
    func prepareContainer(_ request: ContainerRequest, completion: @escaping (GuestSetupReply) -> Void) {
        setUp(.container(request), completion: completion)
    }

    private func setUp(_ message: Message, completion: @escaping (GuestSetupReply) -> Void) {
        onSetupReply = completion
        connection.send(message)
    }

    /// Hands a setup answer to whoever waits for one; an answer nobody asked for is the guest's mistake.
    private func setupReplied(_ reply: GuestSetupReply, type: String) {
        guard let completion = onSetupReply else { return onWarning("guest sent \(type) without a request") }
        onSetupReply = nil
        completion(reply)
    }

    /// Asks vm-init to stop everything and power the VM off.
    func shutdown(graceMs: UInt32) {
        connection.send(.shutdown(ShutdownRequest(mode: .reboot, graceMs: graceMs)))
    }

    private func handle(_ frame: Frame) {
        switch frame.message {
        case .hello(let hello):
            // Only the first, accepted hello gets here (the connection's state machine refuses the rest).
            guestHello = hello
            onReady(hello)
        case .started(let m):
            guard let session = live(m.session) else { return }
            counters.started += 1
            session.markStarted(pid: m.pid)
            session.delegate?.guestSessionStarted(session, pid: m.pid)
        case .startFailed(let m):
            guard let session = live(m.session) else { return }
            counters.failed += 1
            finish(session)
            session.delegate?.guestSessionStartFailed(session, m)
        case .stdout(let ref), .stderr(let ref):
            guard let session = live(ref.session) else { return }
            do {
                try session.outputWindow.receive(frame.payload.count, session: ref.session)
            } catch {
                connection.send(.error(error.errorMessage))
                onWarning("guest exceeded its output window on session \(ref.session); \(frame.payload.count) B dropped")
                return
            }
            counters.bytesIn += UInt64(frame.payload.count)
            var isStderr = false
            if case .stderr = frame.message { isStderr = true }
            session.delegate?.guestSession(session, output: frame.payload, stderr: isStderr)
        case .window(let m):
            // A grant crossing our exit_ack is normal (PROTOCOL.md §5.3: a host keeps no retained sessions, so
            // it ignores a window for any session it does not know).
            guard let session = sessions[m.session] else { return }
            do { try session.stdinWindow.grant(m.bytes, session: m.session) } catch {
                connection.send(.error(error.errorMessage))
                return
            }
            session.delegate?.guestSessionStdinCredit(session)
        case .exit(let m):
            connection.send(.exitAck(SessionRef(session: m.session)))
            guard let session = live(m.session) else { return }
            finish(session)
            session.delegate?.guestSessionExited(session, m.status)
        case .pong(let m):
            if let sent = pendingPings.removeValue(forKey: m.id), let completion = pingCompletions.removeValue(forKey: m.id) {
                completion(EventLoop.now() - sent)
            }
        case .ping(let m):
            connection.send(.pong(m))
        case .statsReport(let m):
            statsCompletions.removeValue(forKey: m.id)?(m)
        case .error(let m):
            if let id = m.session, let session = sessions[id] {
                session.delegate?.guestSessionError(session, m)
            } else if let completion = onSnapshotReply {
                onSnapshotReply = nil
                completion(.failure(m))
            } else if let completion = onSetupReply {
                onSetupReply = nil
                completion(.refused(m))
            } else {
                onWarning("guest reported \(m.code): \(m.message.prefix(200))")
            }
        case .sessions:
            break  // Only ever a reply; unsolicited lists are ignored.
        case .networkApplied(let m):
            setupReplied(.networkApplied(m), type: frame.message.type)
        case .containerReady(let m):
            setupReplied(.containerReady(m), type: frame.message.type)
        case .frozen, .thawed, .resumed:
            guard let completion = onSnapshotReply else { return onWarning("guest sent an unrequested \(frame.message.type)") }
            onSnapshotReply = nil
            completion(.success(frame.message))
        case .exec, .stdin, .stdinClose, .signal, .resize, .exitAck, .attach, .setTime, .shutdown, .network, .container,
             .lifecycle, .lifecycleDone, .freeze, .thaw, .resume, .stats:
            // PROTOCOL.md §4: a known message in the wrong direction is `invalid_message`.
            connection.send(.error(ErrorMessage(code: .invalidMessage,
                                                message: "\"\(frame.message.type)\" is a host message",
                                                session: frame.message.session)))
        }
    }

    /// Sends `signal` to every live session's process group (the workload and every relayed exec session).
    func signalAll(_ signal: Int32) {
        for session in sessions.values { session.signal(signal) }
    }

    private func live(_ id: SessionID) -> GuestSession? {
        guard let session = sessions[id] else {
            // PROTOCOL.md §6: a frame about a session that does not exist (here) is answered `unknown_session`.
            connection.send(.error(ErrorMessage(code: .unknownSession, message: "no session \(id)", session: id)))
            onWarning("guest sent a frame for unknown session \(id)")
            return nil
        }
        return session
    }

    /// Closes the connection at teardown and tells no one: the sessions' owners are gone by then. A guest that
    /// never hung up (hung, or its VMM killed) would otherwise leave the connection registered on the loop, and
    /// the loop, which holds it, would outlive the supervisor.
    func closeQuietly() {
        sessions.removeAll()
        onClosed = { _ in }
        connection.close()
    }

    private func finish(_ session: GuestSession) {
        session.markFinished()
        sessions.removeValue(forKey: session.id)
    }

    private func closed(_ error: SystemError?) {
        let orphaned = Array(sessions.values)
        sessions.removeAll()
        for session in orphaned {
            session.markFinished()
            session.delegate?.guestSessionLost(session)
        }
        onClosed(error)
    }
}
