import Glibc
import LinuxSystem
import Supervisor
import VsockProtocol
import VsockTransport

/// Options of `fc-supervisor exec`.
public struct ExecOptions: Sendable, Equatable {
    public var argv: [String]
    public var env: [String] = []
    public var cwd: String?
    public var user: String?
    public var interactive = false
    public var tty = false
    /// The complete request (OCI `exec`, from a `specs.Process`); when set, the fields above are not used except
    /// `interactive` (whether stdin is forwarded).
    public var request: ExecRequest?
    /// The signals relayed to the session: the direct form's four, or every catchable one for runc's `exec`.
    public var forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    public init(argv: [String]) { self.argv = argv }
}

/// The `fc-supervisor exec` client: one session through a running supervisor's control socket, with the
/// caller's stdio. Speaks VsockProtocol to the supervisor exactly as the supervisor speaks it to vm-init.
///
/// Stdin, stdout and stderr that are pipes (without a terminal session) are passed to the supervisor with the
/// `exec` (SCM_RIGHTS, PROTOCOL.md §11.2–11.3: `stdin_descriptor`, `stdout_descriptor`, `stderr_descriptor`),
/// which then reads or writes them itself: their bytes skip this process and the control socket. A supervisor
/// that does not announce `stdin_descriptor` (`output_descriptors`) in its `hello` ignores the flags (and the
/// descriptors): this client then forwards stdin with `stdin` frames and writes the `stdout` and `stderr`
/// frames it gets, as for any other stdio.
public final class ExecClient {
    private let loop: EventLoop
    private let connection: FramedConnection
    private let options: ExecOptions
    private var local: LocalSession?
    private var remote: ControlRemoteSession?
    private var terminal: Terminal.RawMode?
    private var exitCode: Int32 = SupervisorExitCode.guestLost.rawValue
    /// Stdin went to the supervisor with the `exec` (it is read there if its `hello` says it takes it).
    private var passedStdin = false
    private var sessionStarted = false
    /// How the session ended; nil until ``run()`` returns.
    package private(set) var outcome: LocalSessionOutcome?
    /// Called with the guest pid once the session's process started.
    public var onStarted: ((Int32) -> Void)?
    private static let sessionID: SessionID = 1

    /// Diagnostics, one line each (the CLI passes its stderr writer).
    private let log: (String) -> Void

    /// Connects to the control socket of VM `id`.
    public init(stateRoot: String, id: String, options: ExecOptions, log: @escaping (String) -> Void) throws(SupervisorError) {
        self.options = options
        self.log = log
        let path = StateDirectory(root: stateRoot, id: id).controlSocket
        do {
            loop = try EventLoop()
            let fd = try UnixSocket.connect(path: path)
            connection = FramedConnection(fd: fd, loop: loop, label: "control")
        } catch {
            throw SupervisorError(.startFailed, "cannot reach VM \(id) (\(path)): \(error.errno == ENOENT || error.errno == ECONNREFUSED ? "not running" : "\(error)")")
        }
    }

    /// Runs the session and returns the exit code for the CLI.
    public func run() -> Int32 {
        SystemControl.ignoreSignal(SIGPIPE)
        var size: TerminalSize?
        if options.tty {
            size = (Terminal.size(of: .standardOutput) ?? Terminal.size(of: .standardInput)).map { TerminalSize(rows: $0.rows, cols: $0.cols) }
                ?? TerminalSize(rows: 24, cols: 80)
        }
        let local = LocalSession(loop: loop, stdin: options.interactive ? .standardInput : nil,
                                 stdout: .standardOutput, stderr: .standardError)
        self.local = local
        let remote = ControlRemoteSession(connection: connection, id: Self.sessionID)
        self.remote = remote
        local.remote = remote
        local.onStarted = { [unowned self] pid in self.onStarted?(pid) }
        local.onFinished = { [unowned self] outcome in
            self.outcome = outcome
            if case .startFailed(let failure) = outcome {
                self.report("\(self.options.argv.first ?? ""): \(failure.message)")
            } else if case .lost(let reason) = outcome {
                self.report(reason)
            }
            self.exitCode = outcome.exitCode
            if case .exited(let status) = outcome, let lost = status.lost {
                // Contract §1: a session the guest ended for a snapshot is neither an exit nor a crash.
                self.log("fc-supervisor: session lost: \(lost)")
                self.exitCode = Self.lostExitCode
            }
            self.loop.stop()
        }
        connection.onFrame = { [unowned self] frame in self.handle(frame) }
        connection.onClose = { _ in local.finish(.lost("the supervisor closed the connection")) }
        do {
            try connection.start()
            for signal in options.forwardedSignals {
                try loop.onSignal(signal) { [unowned self] info in self.remote?.signal(info.signal) }
            }
            if options.tty {
                try loop.onSignal(SIGWINCH) { [unowned self] _ in
                    if let size = Terminal.size(of: .standardOutput) { self.remote?.resize(rows: size.rows, cols: size.cols) }
                }
                if options.interactive && Terminal.isTerminal(.standardInput) {
                    let terminal = Terminal.RawMode(fd: .standardInput)
                    // Without raw mode keys are line-buffered and Ctrl-C stays local: degraded, not broken.
                    try? terminal.enter()
                    self.terminal = terminal
                }
            }
        } catch {
            report("\(error)")
            return SupervisorExitCode.startFailed.rawValue
        }
        connection.send(.hello(Hello(role: .client, agent: "fc-supervisor-exec/0.1", window: ProtocolConstants.streamWindow)))
        var request = options.request ?? ExecRequest(session: Self.sessionID, argv: options.argv,
                                                     env: options.env.isEmpty ? nil : options.env, cwd: options.cwd,
                                                     user: options.user, tty: size, stdin: options.interactive)
        request.session = Self.sessionID
        request.stdin = options.interactive
        // Pipes are handed over; terminals, files and sockets stay here (a terminal session keeps all three).
        func isPipe(_ fd: FileDescriptor) -> Bool { request.tty == nil && (try? fd.fileType()) == .fifo }
        if options.interactive && isPipe(.standardInput) { request.stdinDescriptor = true }
        if isPipe(.standardOutput) { request.stdoutDescriptor = true }
        if isPipe(.standardError) { request.stderrDescriptor = true }
        // In the order PROTOCOL.md §11.3 fixes: stdin, stdout, stderr.
        let passing = [(request.stdinDescriptor, FileDescriptor.standardInput), (request.stdoutDescriptor, .standardOutput),
                       (request.stderrDescriptor, .standardError)].compactMap { flag, fd in flag == true ? fd : nil }
        if !passing.isEmpty {
            do {
                try connection.sendNow(.exec(request), passing: passing, until: Clock.deadline(after: Self.sendTimeout))
            } catch {
                report("\(error)")
                local.close()
                connection.close()
                return SupervisorExitCode.startFailed.rawValue
            }
            passedStdin = request.stdinDescriptor == true
        } else {
            connection.send(.exec(request))
        }
        do { try loop.run() } catch { report("\(error)") }
        terminal?.restore()
        local.close()
        connection.close()
        return exitCode
    }

    private func handle(_ frame: Frame) {
        guard let local, let remote else { return }
        switch frame.message {
        case .hello(let hello):
            remote.stdinWindow = SendWindow(initial: hello.window)
            remote.maxPayload = hello.limits.payloadPerFrame
            // It comes before `started`, which is when stdin forwarding would begin.
            if passedStdin && hello.capabilities.contains(ExecRequest.stdinDescriptorCapability) { local.stdinHandedOver() }
        case .started(let m) where m.session == remote.id:
            sessionStarted = true
            local.started(pid: m.pid)
        case .startFailed(let m) where m.session == remote.id:
            local.finish(.startFailed(m))
        case .stdout(let m) where m.session == remote.id:
            remote.received(frame.payload.count)
            local.output(frame.payload, stderr: false)
        case .stderr(let m) where m.session == remote.id:
            remote.received(frame.payload.count)
            local.output(frame.payload, stderr: true)
        case .window(let m) where m.session == remote.id:
            try? remote.stdinWindow.grant(m.bytes, session: m.session)
            local.stdinCreditChanged()
        case .exit(let m) where m.session == remote.id:
            local.finish(.exited(m.status))
        case .error(let m) where m.session == remote.id && !sessionStarted && m.code != .internal:
            // The exec itself was refused (a lost guest, `internal`, is handled below): no session will start.
            local.finish(.startFailed(StartFailed(session: remote.id, errno: 0, stage: .validate, message: "\(m.code): \(m.message)")))
        case .error(let m):
            report("error: \(m.code): \(m.message)")
            if m.session == remote.id && m.code == .internal { local.finish(.lost(m.message)) }
        case .ping(let m):
            connection.send(.pong(m))
        default:
            break
        }
    }

    /// The exit code of a session lost to a snapshot (`exit` with `lost`).
    static let lostExitCode: Int32 = 255
    /// How long the `exec` that passes stdin may wait for the control socket to take it.
    static let sendTimeout: Duration = .seconds(10)

    private func report(_ message: String) {
        terminal?.restore()
        log("fc-supervisor exec: \(message)")
    }
}

/// The exec client's view of its session on the supervisor.
final class ControlRemoteSession: RemoteSession {
    let id: SessionID
    private let connection: FramedConnection
    var stdinWindow = SendWindow(initial: 0)
    /// The supervisor's `hello.limits.max_payload`: no stdin frame is larger.
    var maxPayload = FrameLimits.default.payloadPerFrame
    private var outputWindow = ReceiveWindow(window: ProtocolConstants.streamWindow)

    init(connection: FramedConnection, id: SessionID) {
        self.connection = connection
        self.id = id
    }

    func received(_ count: Int) {
        // The supervisor honours our window; if it did not, we would still only buffer what the sink holds.
        try? outputWindow.receive(count, session: id)
    }

    var stdinCredit: Int { min(Int(stdinWindow.available), maxPayload) }

    func sendStdin(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = stdinWindow.take(upTo: min(bytes.count, maxPayload))
        if n > 0 { connection.send(.stdin(SessionRef(session: id)), payload: UnsafeRawBufferPointer(rebasing: bytes[..<n])) }
        return n
    }

    func sendStdin(_ bytes: [UInt8]) -> Int {
        let n = stdinWindow.take(upTo: min(bytes.count, maxPayload))
        if n > 0 { connection.send(.stdin(SessionRef(session: id)), payload: bytes[..<n]) }
        return n
    }

    func closeStdin() { connection.send(.stdinClose(SessionRef(session: id))) }
    func outputConsumed(_ count: Int) {
        if let grant = outputWindow.consume(count) { connection.send(.window(WindowUpdate(session: id, bytes: grant))) }
    }
    func signal(_ signal: Int32) { connection.send(.signal(SignalRequest(session: id, signal: signal))) }
    func resize(rows: UInt16, cols: UInt16) { connection.send(.resize(ResizeRequest(session: id, rows: rows, cols: cols))) }
}
