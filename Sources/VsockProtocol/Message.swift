/// Every message of the protocol. The JSON header of a frame is one of these, tagged by `type`.
///
/// Which side may send which message is documented in Protocol/PROTOCOL.md; the codec accepts all of them in
/// either direction and leaves that check to the state machines.
public enum Message: Sendable, Equatable {
    case hello(Hello)
    case exec(ExecRequest)
    case started(Started)
    case startFailed(StartFailed)
    /// Payload: bytes for the process's stdin.
    case stdin(SessionRef)
    case stdinClose(SessionRef)
    /// Payload: bytes the process wrote to stdout (or to its terminal).
    case stdout(SessionRef)
    /// Payload: bytes the process wrote to stderr.
    case stderr(SessionRef)
    case window(WindowUpdate)
    case signal(SignalRequest)
    case resize(ResizeRequest)
    case exit(ExitReport)
    case exitAck(SessionRef)
    /// Host: stream this session's output and exit to this connection (after a reconnect).
    case attach(SessionRef)
    case sessions(SessionList)
    case ping(Ping)
    case pong(Ping)
    case setTime(SetTime)
    case shutdown(ShutdownRequest)
    case error(ErrorMessage)
    /// Host: configure the guest's network. Answered by `network_applied` or `error`.
    case network(NetworkConfig)
    case networkApplied(NetworkApplied)
    /// control.sock only (§11): start the held workload, pause or resume the VM.
    case lifecycle(LifecycleRequest)
    case lifecycleDone(LifecycleDone)
    /// Host: make a root file system the root of every later process. Answered by `container_ready` or `error`.
    case container(ContainerRequest)
    case containerReady(ContainerReady)
    /// Host: stop the workload for a snapshot (§4.25). Answered by `frozen` (bulk lane) or `error`.
    case freeze(FreezeRequest)
    case frozen(FrozenReport)
    /// Host: undo a freeze. Answered by `thawed`.
    case thaw(ThawRequest)
    case thawed(ThawedReport)
    /// Host, in a guest restored from a snapshot: new time, randomness and identity, then run. Answered by `resumed`.
    case resume(ResumeRequest)
    case resumed(ResumedReport)
    /// Host: report the guest's memory, CPU, load, clock and per-session cgroup numbers (StatsMessages.swift).
    case stats(StatsRequest)
    case statsReport(StatsReport)

    /// The wire name in the `type` field.
    public var type: String {
        switch self {
        case .hello: "hello"
        case .exec: "exec"
        case .started: "started"
        case .startFailed: "start_failed"
        case .stdin: "stdin"
        case .stdinClose: "stdin_close"
        case .stdout: "stdout"
        case .stderr: "stderr"
        case .window: "window"
        case .signal: "signal"
        case .resize: "resize"
        case .exit: "exit"
        case .exitAck: "exit_ack"
        case .attach: "attach"
        case .sessions: "sessions"
        case .ping: "ping"
        case .pong: "pong"
        case .setTime: "set_time"
        case .shutdown: "shutdown"
        case .error: "error"
        case .network: "network"
        case .networkApplied: "network_applied"
        case .lifecycle: "lifecycle"
        case .lifecycleDone: "lifecycle_done"
        case .container: "container"
        case .containerReady: "container_ready"
        case .freeze: "freeze"
        case .frozen: "frozen"
        case .thaw: "thaw"
        case .thawed: "thawed"
        case .resume: "resume"
        case .resumed: "resumed"
        case .stats: "stats"
        case .statsReport: "stats_report"
        }
    }

    /// Every `type` this version defines.
    public static let knownTypes: Set<String> = [
        "hello", "exec", "started", "start_failed", "stdin", "stdin_close", "stdout", "stderr", "window", "signal",
        "resize", "exit", "exit_ack", "attach", "sessions", "ping", "pong", "set_time", "shutdown", "error",
        "network", "network_applied", "container", "container_ready", "lifecycle", "lifecycle_done",
        "freeze", "frozen", "thaw", "thawed", "resume", "resumed",
        "stats", "stats_report",
    ]

    /// The session a message concerns, if any.
    public var session: SessionID? {
        switch self {
        case .exec(let m): m.session
        case .started(let m): m.session
        case .startFailed(let m): m.session
        case .stdin(let m), .stdinClose(let m), .stdout(let m), .stderr(let m), .exitAck(let m), .attach(let m): m.session
        case .window(let m): m.session
        case .signal(let m): m.session
        case .resize(let m): m.session
        case .exit(let m): m.session
        case .error(let m): m.session
        case .hello, .sessions, .ping, .pong, .setTime, .shutdown, .network, .networkApplied, .container,
             .containerReady, .lifecycle, .lifecycleDone, .freeze, .frozen, .thaw, .thawed, .resume, .resumed,
             .stats, .statsReport: nil
        }
    }

    /// Whether this message may carry a payload (only stdio data does).
    public var carriesPayload: Bool {
        switch self {
        case .stdin, .stdout, .stderr: true
        default: false
        }
    }

    /// Control messages are never queued behind bulk data (see ``OutboundQueue``). `stdin_close` and `exit`
    /// are not control: they must stay behind their session's stdio data (EOF after the last stdin byte, exit
    /// after the last output byte), so they travel in the bulk lane; so does `frozen`, which follows every output
    /// byte queued before the freeze.
    public var isControl: Bool {
        switch self {
        case .stdin, .stdout, .stderr, .stdinClose, .exit, .exitAck, .frozen: false
        default: true
        }
    }
}

// MARK: - Codable

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension Message: Codable {
    private enum TagKey: String, CodingKey { case type, session }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: TagKey.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "hello": self = .hello(try Hello(from: decoder))
        case "exec": self = .exec(try ExecRequest(from: decoder))
        case "started": self = .started(try Started(from: decoder))
        case "start_failed": self = .startFailed(try StartFailed(from: decoder))
        case "stdin": self = .stdin(try SessionRef(from: decoder))
        case "stdin_close": self = .stdinClose(try SessionRef(from: decoder))
        case "stdout": self = .stdout(try SessionRef(from: decoder))
        case "stderr": self = .stderr(try SessionRef(from: decoder))
        case "window": self = .window(try WindowUpdate(from: decoder))
        case "signal": self = .signal(try SignalRequest(from: decoder))
        case "resize": self = .resize(try ResizeRequest(from: decoder))
        case "exit": self = .exit(try ExitReport(from: decoder))
        case "exit_ack": self = .exitAck(try SessionRef(from: decoder))
        case "attach": self = .attach(try SessionRef(from: decoder))
        case "sessions": self = .sessions(try SessionList(from: decoder))
        case "ping": self = .ping(try Ping(from: decoder))
        case "pong": self = .pong(try Ping(from: decoder))
        case "set_time": self = .setTime(try SetTime(from: decoder))
        case "shutdown": self = .shutdown(try ShutdownRequest(from: decoder))
        case "error": self = .error(try ErrorMessage(from: decoder))
        case "network": self = .network(try NetworkConfig(from: decoder))
        case "network_applied": self = .networkApplied(try NetworkApplied(from: decoder))
        case "lifecycle": self = .lifecycle(try LifecycleRequest(from: decoder))
        case "lifecycle_done": self = .lifecycleDone(try LifecycleDone(from: decoder))
        case "container": self = .container(try ContainerRequest(from: decoder))
        case "container_ready": self = .containerReady(try ContainerReady(from: decoder))
        case "freeze": self = .freeze(try FreezeRequest(from: decoder))
        case "frozen": self = .frozen(try FrozenReport(from: decoder))
        case "thaw": self = .thaw(try ThawRequest(from: decoder))
        case "thawed": self = .thawed(try ThawedReport(from: decoder))
        case "resume": self = .resume(try ResumeRequest(from: decoder))
        case "resumed": self = .resumed(try ResumedReport(from: decoder))
        case "stats": self = .stats(try StatsRequest(from: decoder))
        case "stats_report": self = .statsReport(try StatsReport(from: decoder))
        default:
            throw UnknownMessageType(type: type)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: TagKey.self)
        try c.encode(type, forKey: .type)
        switch self {
        case .hello(let m): try m.encode(to: encoder)
        case .exec(let m): try m.encode(to: encoder)
        case .started(let m): try m.encode(to: encoder)
        case .startFailed(let m): try m.encode(to: encoder)
        case .stdin(let m), .stdinClose(let m), .stdout(let m), .stderr(let m), .exitAck(let m), .attach(let m):
            try m.encode(to: encoder)
        case .window(let m): try m.encode(to: encoder)
        case .signal(let m): try m.encode(to: encoder)
        case .resize(let m): try m.encode(to: encoder)
        case .exit(let m): try m.encode(to: encoder)
        case .sessions(let m): try m.encode(to: encoder)
        case .ping(let m), .pong(let m): try m.encode(to: encoder)
        case .setTime(let m): try m.encode(to: encoder)
        case .shutdown(let m): try m.encode(to: encoder)
        case .error(let m): try m.encode(to: encoder)
        case .network(let m): try m.encode(to: encoder)
        case .networkApplied(let m): try m.encode(to: encoder)
        case .lifecycle(let m): try m.encode(to: encoder)
        case .lifecycleDone(let m): try m.encode(to: encoder)
        case .container(let m): try m.encode(to: encoder)
        case .containerReady(let m): try m.encode(to: encoder)
        case .freeze(let m): try m.encode(to: encoder)
        case .frozen(let m): try m.encode(to: encoder)
        case .thaw(let m): try m.encode(to: encoder)
        case .thawed(let m): try m.encode(to: encoder)
        case .resume(let m): try m.encode(to: encoder)
        case .resumed(let m): try m.encode(to: encoder)
        case .stats(let m): try m.encode(to: encoder)
        case .statsReport(let m): try m.encode(to: encoder)
        }
    }
}

/// Thrown by the `Codable` conformance for a header whose `type` this version does not define.
struct UnknownMessageType: Error { var type: String }
#endif

// MARK: - JSON header codec

extension Message {
    /// Parses a frame header. Never traps: every failure is a ``ProtocolError`` with the code to send back
    /// (`malformed_header`, `unknown_message` or `invalid_message`) and, when it can be read, the session.
    public static func decode(header: some Collection<UInt8>) throws(ProtocolError) -> Message {
        let result = header.withContiguousStorageIfAvailable { decodeResult(UnsafeRawBufferPointer($0)) }
            ?? Array(header).withUnsafeBytes { decodeResult($0) }
        return try result.get()
    }

    /// The canonical header of a data frame or a window update in one pass (``StdioHeader``); anything else
    /// through ``decodeChecked(_:)``.
    private static func decodeResult(_ bytes: UnsafeRawBufferPointer) -> Result<Message, ProtocolError> {
        if let message = StdioHeader.decode(bytes) { return .success(message) }
        do throws(ProtocolError) { return .success(try decodeChecked(bytes)) } catch { return .failure(error) }
    }

    /// The general path: strict syntax (``HeaderSyntax``), then the message types' own decoding.
    private static func decodeChecked(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Message {
        let syntax = HeaderSyntax.check(bytes)
        if case .malformed(let reason) = syntax {
            throw ProtocolError(.malformedHeader, "header is not strict JSON: \(reason)")
        }
        guard let tree = HeaderValue.parse(bytes) else {
            throw ProtocolError(.malformedHeader, "header is not strict JSON")
        }
        let decoded: Message?
        do { decoded = try Message.decode(parsed: tree) } catch {
            switch error {
            case .unknownType(let type):
                throw ProtocolError(.unknownMessage, "unknown message type \"\(type.prefix(64))\"", session: probeSession(tree))
            case .invalid(let type, let reason):
                throw ProtocolError(.invalidMessage, "invalid \"\(type.prefix(64))\" message: \(reason.reason)",
                                    session: probeSession(tree))
            }
        }
        guard let message = decoded else {
            throw ProtocolError(.malformedHeader, "header is not a JSON object with a string \"type\"")
        }
        // A literal such as `2.0` or `1e2` decodes as a whole number; in a field of the message it is refused
        // (an unknown field may hold any number, §9).
        if case .nonInteger(let paths) = syntax, let path = Self.fieldPath(of: paths, in: message) {
            let name = path.joined(separator: ".").prefix(64)
            throw ProtocolError(.invalidMessage,
                                "invalid \"\(message.type)\" message: \"\(name)\" has a fraction or exponent; header numbers are integers",
                                session: path == ["session"] ? nil : message.session)
        }
        if let problem = message.rangeProblem {
            throw ProtocolError(.invalidMessage, "invalid \"\(message.type)\" message: \(problem)", session: message.session)
        }
        return message
    }

    /// The session of a header that failed to decode, read leniently, so that a bad `session` value does not
    /// turn an `invalid_message` into a `malformed_header`.
    private static func probeSession(_ tree: HeaderValue) -> SessionID? {
        tree["session"].flatMap { try? SessionID(header: $0, at: []) }
    }

    /// The first of `paths` that names a field of `message` (found in its canonical encoding).
    private static func fieldPath(of paths: [[String]], in message: Message) -> [String]? {
        guard let tree = HeaderValue.parse(message.encodedHeader()) else { return paths.first }
        return paths.first { tree.contains($0[...]) }
    }

    /// The JSON header bytes of this message: canonical (no spaces, keys sorted), so the bytes are deterministic.
    ///
    /// Every field is a plain string, integer or boolean, so encoding cannot fail.
    public func encodedHeader() -> [UInt8] {
        if let bytes = StdioHeader.encode(self) { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(128)
        headerValue.write(into: &out)
        return out
    }
}
