import Glibc
import LinuxSystem
import VsockProtocol

/// What the host saw of one session.
public struct SessionResult: Sendable {
    public var started: Started?
    public var startFailed: StartFailed?
    public var stdout: [UInt8] = []
    public var stderr: [UInt8] = []
    public var exit: ExitReport?
    public init() {}
    public var done: Bool { exit != nil || startFailed != nil }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// A small blocking host-side client for tests, speaking PROTOCOL.md directly (not through VsockTransport, so
/// it checks the guest's side independently): frames, automatic credit grants, per-session results.
public final class FrameClient {
    public let fd: FileDescriptor
    public let window: UInt32
    /// The `agent` this client names in its hello.
    public let agent: String
    public var decoder = FrameDecoder(limits: .ceiling)
    public var guestHello: Hello?
    public var results: [SessionID: SessionResult] = [:]
    /// Credit the guest gave us for stdin, per session.
    public var stdinCredit: [SessionID: UInt64] = [:]
    /// Our receive windows for guest output, per session.
    public var receiveWindows: [SessionID: ReceiveWindow] = [:]
    /// Sessions we deliberately never grant more output credit (a stalled reader).
    public var stalled: Set<SessionID> = []
    /// Other frames (errors, pongs, sessions lists), in order.
    public var others: [Frame] = []
    public var closed = false

    public init(fd: FileDescriptor, window: UInt32 = ProtocolConstants.defaultWindow, agent: String = "vminit-tests") {
        self.fd = fd
        self.window = window
        self.agent = agent
    }

    deinit { if !closed { fd.close() } }

    public func close() {
        if !closed { closed = true; fd.close() }
    }

    public func handshake() throws {
        let frame = try receiveRaw(timeout: 20)
        guard case .hello(let hello) = frame.message else { throw HarnessError("expected hello, got \(frame.message)") }
        guestHello = hello
        send(.hello(Hello(role: .host, agent: agent, window: window)))
    }

    public func send(_ message: Message, payload: [UInt8] = []) {
        sendRaw(Frame(message, payload: payload).encoded())
    }

    public func sendRaw(_ bytes: [UInt8]) {
        do { try fd.writeAll(bytes) } catch { closed = true }
    }

    /// The next frame, blocking up to `timeout` seconds.
    public func receiveRaw(timeout: Double) throws -> Frame {
        let deadline = Deadline(seconds: timeout)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            if let decoded = decoder.next() {
                switch decoded {
                case .frame(let frame): return frame
                case .invalid(let e), .oversized(let e): throw HarnessError("guest sent a bad frame: \(e)")
                }
            }
            let remaining = deadline.remaining
            guard remaining > 0 else { throw HarnessError("timed out waiting for a frame") }
            var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(remaining * 1000, 1000)) + 1)
            if r <= 0 { continue }
            let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            guard let n else { continue }
            if n == 0 { throw HarnessError("connection closed by vm-init") }
            buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Receives one frame and does the bookkeeping (results, grants, credit).
    @discardableResult
    public func pump(timeout: Double) throws -> Frame {
        let frame = try receiveRaw(timeout: timeout)
        switch frame.message {
        case .started(let m):
            results[m.session, default: SessionResult()].started = m
        case .startFailed(let m):
            results[m.session, default: SessionResult()].startFailed = m
        case .stdout(let ref), .stderr(let ref):
            if case .stdout = frame.message {
                results[ref.session, default: SessionResult()].stdout += frame.payload
            } else {
                results[ref.session, default: SessionResult()].stderr += frame.payload
            }
            var rw = receiveWindows[ref.session] ?? ReceiveWindow(window: window)
            do { try rw.receive(frame.payload.count, session: ref.session) } catch {
                throw HarnessError("session \(ref.session): guest overran its credit: \(error)")
            }
            if !stalled.contains(ref.session), let grant = rw.consume(frame.payload.count) {
                send(.window(WindowUpdate(session: ref.session, bytes: grant)))
            }
            receiveWindows[ref.session] = rw
        case .exit(let m):
            results[m.session, default: SessionResult()].exit = m
        case .window(let m):
            stdinCredit[m.session, default: 0] += UInt64(m.bytes)
        default:
            others.append(frame)
        }
        return frame
    }

    /// Pumps until `condition` holds.
    public func pump(until condition: () -> Bool, timeout: Double = 20) throws {
        let deadline = Deadline(seconds: timeout)
        while !condition() {
            let remaining = deadline.remaining
            guard remaining > 0 else { throw HarnessError("condition not met within \(timeout) s") }
            try pump(timeout: remaining)
        }
    }

    /// Ends a deliberate stall: grants everything received so far (as a reader catching up would).
    public func releaseStall(_ session: SessionID) {
        stalled.remove(session)
        var rw = receiveWindows[session] ?? ReceiveWindow(window: window)
        if let grant = rw.consume(Int(UInt64(window) - rw.outstanding - rw.consumedSinceGrant)) {
            send(.window(WindowUpdate(session: session, bytes: grant)))
        }
        receiveWindows[session] = rw
    }

    /// Starts a session (stdin credit starts at the guest's window).
    public func exec(_ request: ExecRequest) {
        results[request.session] = SessionResult()
        receiveWindows[request.session] = ReceiveWindow(window: window)
        stdinCredit[request.session] = UInt64(guestHello?.window ?? ProtocolConstants.defaultWindow)
        send(.exec(request))
    }

    /// Runs a command to completion.
    public func run(_ request: ExecRequest, timeout: Double = 20) throws -> SessionResult {
        exec(request)
        try pump(until: { results[request.session]?.done == true }, timeout: timeout)
        return results[request.session] ?? SessionResult()
    }

    /// Sends stdin within the guest's credit, pumping frames while waiting for more.
    public func sendStdin(_ session: SessionID, _ bytes: [UInt8], chunk: Int = 64 * 1024, timeout: Double = 60) throws {
        var offset = 0
        let deadline = Deadline(seconds: timeout)
        while offset < bytes.count {
            let credit = Int(min(stdinCredit[session] ?? 0, UInt64(chunk)))
            if credit == 0 {
                guard !deadline.hasPassed else { throw HarnessError("no stdin credit within \(timeout) s") }
                try pump(timeout: deadline.remaining)
                continue
            }
            let n = min(credit, bytes.count - offset)
            send(.stdin(SessionRef(session: session)), payload: Array(bytes[offset..<offset + n]))
            stdinCredit[session, default: 0] -= UInt64(n)
            offset += n
            // Keep our receive side moving so output credit flows back.
            while try pollReadable(0) { try pump(timeout: 1) }
        }
    }

    public func pollReadable(_ ms: Int32) throws -> Bool {
        var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, ms) > 0
    }
}

/// FNV-1a 64, for comparing large outputs cheaply.
public func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}
