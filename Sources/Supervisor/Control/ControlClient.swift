import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

/// What a control client may ask of the VM beyond exec sessions.
protocol ControlHost: AnyObject {
    /// The guest connection, once vm-init has said hello.
    var guestMux: GuestMux? { get }
    /// Delivers a signal to the main workload's process group (control session 0); with `all`, to every live
    /// session in the VM as well.
    func signalWorkload(_ signal: Int32, all: Bool)
    /// Stops the workload and the VM (`fc-supervisor stop`).
    func requestStop(reason: String)
    /// Starts the held workload, or pauses or resumes the VM; `reply` is called once, on the loop, with the
    /// answer for the client (`lifecycle_done`, or an `error` without session).
    func lifecycle(_ request: LifecycleRequest, reply: @escaping (Result<LifecycleDone, ErrorMessage>) -> Void)
    /// The guest's `stats_report` (its `id` is the supervisor's), or the error for the client; once, on the loop.
    func guestStats(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void)
    /// Sets the guest's clock from the host's now; `reply` gets the guest's report made right after it.
    func syncGuestClock(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void)
}

/// One connection on the control socket: an `fc-supervisor exec` (or any protocol client).
///
/// It speaks VsockProtocol as a host would to vm-init: `hello`, then `exec` with its own session ids, `stdin`,
/// `stdin_close`, `window`, `signal`, `resize`, `ping`. Session id 0 is reserved and names the main workload
/// (for `signal`, as `fc-supervisor kill` does). `shutdown` stops the VM.
///
/// An `exec` may also pass its stdin, stdout and stderr as pipes (SCM_RIGHTS, `stdin_descriptor`,
/// `stdout_descriptor`, `stderr_descriptor`: PROTOCOL.md §11.2–11.3), which this side then reads or writes itself:
/// one hop fewer for every byte of those streams.
final class ControlClient {
    private let connection: FramedConnection
    private unowned let loop: EventLoop
    private unowned let host: any ControlHost
    private var hello: Hello?
    private var sessions: [SessionID: RelayedSession] = [:]
    /// Stdin credit we announce to the client per session.
    static let window: UInt32 = ProtocolConstants.defaultWindow
    /// At most this many concurrent sessions per client.
    static let maxSessions = 4096
    /// Whether `stdin_descriptor` is served (announced in `hello`): only where a pipe can be read without
    /// waiting and without changing its flags (RWF_NOWAIT on pipes, which this kernel is probed for).
    static let takesStdinDescriptors = Pipe.honoursReadsWithoutWaiting
    /// Whether `stdout_descriptor` and `stderr_descriptor` are served (`output_descriptors` in `hello`): only
    /// where a pipe can be written without waiting and without changing its flags (RWF_NOWAIT, probed).
    static let takesOutputDescriptors = Pipe.honoursWritesWithoutWaiting
    /// Most passed descriptors a client may have sent ahead of the `exec` frames that claim them (one `exec`'s
    /// stdin, stdout and stderr); more are closed.
    static let maxUnclaimedDescriptors = 3
    var onClose: (ControlClient) -> Void = { _ in }

    init(fd: FileDescriptor, loop: EventLoop, host: any ControlHost) {
        // PROTOCOL.md §7 on control.sock: the client says hello first, with role `client`.
        var options = FramedConnection.Options.supervisor
        if Self.takesStdinDescriptors || Self.takesOutputDescriptors { options.descriptorLimit = Self.maxUnclaimedDescriptors }
        connection = FramedConnection(fd: fd, loop: loop, label: "control", options: options,
                                      state: ConnectionState(ownRole: .supervisor))
        self.loop = loop
        self.host = host
        connection.onFrame = { [unowned self] frame in self.handle(frame) }
        connection.onClose = { [unowned self] _ in self.closed() }
    }

    func start() throws(SystemError) {
        try connection.start()
        var capabilities = ["pty"]
        if Self.takesStdinDescriptors { capabilities.append(ExecRequest.stdinDescriptorCapability) }
        if Self.takesOutputDescriptors { capabilities.append(ExecRequest.outputDescriptorsCapability) }
        connection.send(.hello(Hello(role: .supervisor, agent: "fc-supervisor/0.1", capabilities: capabilities,
                                     window: Self.window, wallClockNs: SystemControl.wallClockNanoseconds())))
    }

    func send(_ message: Message, payload: [UInt8] = []) { connection.send(message, payload: payload) }
    func send(_ message: Message, payload: UnsafeRawBufferPointer) { connection.send(message, payload: payload) }

    func sessionEnded(_ session: RelayedSession) {
        if sessions[session.clientID] === session { sessions.removeValue(forKey: session.clientID) }
    }

    /// Writes what is queued for the client, waiting for it no later than `deadline`, then closes.
    func closeAfterFlushing(until deadline: Clock.Instant) {
        connection.flush(until: deadline)
        connection.close()
    }

    private func handle(_ frame: Frame) {
        switch frame.message {
        case .hello(let h):
            // The connection's state machine let this through: it is the accepted first one.
            hello = h
        case .exec(let request):
            exec(request)
        case .stdin(let ref):
            relayed(ref.session)?.clientStdin(frame.payload)
        case .stdinClose(let ref):
            relayed(ref.session)?.clientStdinClose()
        case .window(let m):
            // A client returns credit for output it wrote after the session ended: late grants are normal.
            sessions[m.session]?.clientGrantedOutput(m.bytes)
        case .signal(let m):
            // PROTOCOL.md §4.10: an unknown session first, then the range 1–64 (checked here for session 0,
            // which never reaches vm-init, and so for every session alike).
            let relay = m.session == 0 ? nil : relayed(m.session)
            guard m.session == 0 || relay != nil else { return }
            guard (1...64).contains(m.signal) else {
                return refuse(frame.message, "signal \(m.signal) out of range 1–64")
            }
            if let relay { relay.guest?.signal(m.signal) } else { host.signalWorkload(m.signal, all: m.all == true) }
        case .resize(let m):
            relayed(m.session)?.guest?.resize(rows: m.rows, cols: m.cols)
        case .ping(let m):
            send(.pong(m))
        case .shutdown:
            host.requestStop(reason: "stop requested on the control socket")
        case .lifecycle(let request):
            guard request.action.isDefined else {
                return refuse(frame.message, "lifecycle action \"\(request.action)\" is not start, pause, resume or checkpoint")
            }
            // The client may have gone by the time a pause completes: sending on a closed connection is a no-op.
            host.lifecycle(request) { [weak self] result in
                switch result {
                case .success(let done): self?.send(.lifecycleDone(done))
                case .failure(let refusal): self?.send(.error(refusal))
                }
            }
        case .stats(let request):
            host.guestStats { [weak self] result in self?.answer(result, id: request.id) }
        case .setTime:
            // §11: the supervisor sets the guest's clock from its own (`unix_ns` is ignored) and answers with
            // the guest's report made after it (id 0), so the client sees the clock that resulted.
            host.syncGuestClock { [weak self] result in self?.answer(result, id: 0) }
        case .exitAck, .error, .pong:
            // §11: the supervisor acknowledges exits to vm-init itself; errors are never answered; pongs are
            // only answers to pings this side never sends.
            break
        case .attach, .sessions, .network, .container, .freeze, .thaw, .resume:
            // §11: these concern the guest connection, which the supervisor owns.
            refuse(frame.message, "\"\(frame.message.type)\" is not served on control.sock")
        case .started, .startFailed, .stdout, .stderr, .exit, .networkApplied, .containerReady, .lifecycleDone, .frozen,
             .thawed, .resumed, .statsReport:
            // §4: a known message in the wrong direction.
            refuse(frame.message, "\"\(frame.message.type)\" is sent by the supervisor, not a client")
        }
    }

    /// A guest report for the client, under the client's id; or the error.
    private func answer(_ result: Result<StatsReport, ErrorMessage>, id: UInt64) {
        switch result {
        case .success(var report):
            report.id = id
            send(.statsReport(report))
        case .failure(let error): send(.error(error))
        }
    }

    /// Answers `invalid_message` with the frame's session, if any.
    private func refuse(_ message: Message, _ text: String) {
        send(.error(ErrorMessage(code: .invalidMessage, message: text, session: message.session)))
    }

    private func exec(_ request: ExecRequest) {
        var request = request
        let id = request.session
        // The passed pipes are claimed first, whatever the outcome, so a refused exec cannot leave them to the next.
        guard let passed = claimDescriptors(request) else { return }
        if passed.stdin != nil { request.stdin = true }
        // Not vm-init's business: it never receives descriptors.
        request.stdinDescriptor = nil
        request.stdoutDescriptor = nil
        request.stderrDescriptor = nil
        func decline(_ answer: Message) {
            passed.close()
            self.send(answer)
        }
        guard id != 0 else {
            return decline(.error(ErrorMessage(code: .invalidMessage, message: "session 0 is reserved", session: id)))
        }
        guard sessions[id] == nil else {
            return decline(.error(ErrorMessage(code: .sessionExists, message: "session \(id) is live", session: id)))
        }
        guard sessions.count < Self.maxSessions else {
            return decline(.startFailed(StartFailed(session: id, errno: EAGAIN, stage: .validate,
                                                    message: "too many sessions on one control connection")))
        }
        guard let mux = host.guestMux, mux.isReady else {
            return decline(.startFailed(StartFailed(session: id, errno: ENOTCONN, stage: .validate,
                                                    message: "the guest is not connected")))
        }
        let relay = RelayedSession(clientID: id, client: self, loop: loop,
                                   clientWindow: hello?.window ?? ProtocolConstants.defaultWindow,
                                   clientMaxPayload: hello?.limits.maxPayloadBytes ?? FrameLimits.default.maxPayloadBytes,
                                   stdinWindow: Self.window, stdinAllowed: request.stdin == true, passed: passed)
        sessions[id] = relay
        relay.guest = mux.exec(request, delegate: relay)
    }

    /// The pipes an `exec` passed for the streams it names and this side serves, oldest first in the order
    /// stdin, stdout, stderr (PROTOCOL.md §11.2–11.3). All are taken before any is checked, so a refusal never
    /// leaves one behind for the next `exec`; then, if one is missing, not a pipe, or a pipe's wrong end, the
    /// exec is refused with `invalid_message`, every one taken is closed, and nil is returned.
    private func claimDescriptors(_ request: ExecRequest) -> PassedStdio? {
        let wanted = [("stdin", request.stdinDescriptor == true && Self.takesStdinDescriptors),
                      ("stdout", request.stdoutDescriptor == true && Self.takesOutputDescriptors),
                      ("stderr", request.stderrDescriptor == true && Self.takesOutputDescriptors)]
        let taken = wanted.map { _, wants in wants ? connection.takeDescriptor() : nil }
        for ((stream, wants), fd) in zip(wanted, taken) where wants {
            if let problem = Self.problem(with: fd, stream: stream, output: stream != "stdin") {
                taken.forEach { $0?.close() }
                send(.error(ErrorMessage(code: .invalidMessage, message: problem, session: request.session)))
                return nil
            }
        }
        return PassedStdio(stdin: taken[0], stdout: taken[1], stderr: taken[2])
    }

    /// Why a passed descriptor cannot serve as `stream`, or nil when it can: a pipe, the end the stream needs.
    private static func problem(with fd: FileDescriptor?, stream: String, output: Bool) -> String? {
        guard let fd else { return "exec has \"\(stream)_descriptor\": true but no descriptor was passed with it" }
        let type = try? fd.fileType()
        guard type == .fifo else {
            return "the \(stream) descriptor passed with exec is not a pipe (\(type.map { "\($0)" } ?? "fstat failed"))"
        }
        if output, (try? fd.isWritable()) != true {
            return "the \(stream) descriptor passed with exec is not a pipe's write end"
        }
        return nil
    }

    private func relayed(_ id: SessionID) -> RelayedSession? {
        guard let session = sessions[id] else {
            send(.error(ErrorMessage(code: .unknownSession, message: "no session \(id)", session: id)))
            return nil
        }
        return session
    }

    private func closed() {
        // A client that disconnects ends its sessions' processes: like ssh, the remote side gets SIGHUP. Their
        // passed pipes are closed: the user's pipeline no longer has a reader or writer here.
        for session in sessions.values {
            session.guest?.signal(SIGHUP)
            session.releasePassed()
        }
        sessions.removeAll()
        onClose(self)
    }
}
