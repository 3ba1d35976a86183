// libFuzzer target (c): the supervisor's guest-side handler. A real FramedConnection over a socketpair feeds
// GuestMux an arbitrary guest→host byte stream (through FramedConnection.start(initialBytes:) and one turn of
// the real EventLoop). Unless bit 5 of byte 0 is set, a valid guest `hello` goes first, so most inputs get past
// PROTOCOL.md §7's hello check. Three sessions are open; their delegate consumes output, sends stdin on credit and
// checks the mux's promises: no callbacks after a session finished, output never beyond the granted window,
// one terminal event per session, and every byte the host writes back is a well-formed frame (a host message,
// decoded in full, on one input in four: see FuzzOutputChecker).
// build-fuzz.sh links it against the Supervisor module, built with -enable-testing.
import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

@testable import Supervisor

final class FuzzMuxDelegate: GuestSessionDelegate {
    var terminal: Set<SessionID> = []
    var outstanding: [SessionID: Int] = [:]
    let window: Int
    let consume: Bool

    init(window: Int, consume: Bool) { self.window = window; self.consume = consume }

    private func live(_ s: GuestSession) { precondition(!terminal.contains(s.id), "callback after session \(s.id) ended") }
    private func end(_ s: GuestSession) { live(s); terminal.insert(s.id) }

    func guestSessionStarted(_ session: GuestSession, pid: Int32) { live(session) }
    func guestSessionStartFailed(_ session: GuestSession, _ failure: StartFailed) { end(session) }
    func guestSession(_ session: GuestSession, output bytes: [UInt8], stderr: Bool) {
        live(session)
        outstanding[session.id, default: 0] += bytes.count
        precondition(outstanding[session.id, default: 0] <= window, "guest output beyond the granted window was delivered")
        if consume {
            session.outputConsumed(bytes.count)
            outstanding[session.id] = 0
        }
    }
    func guestSessionExited(_ session: GuestSession, _ status: ExitStatus) { end(session) }
    func guestSessionStdinCredit(_ session: GuestSession) {
        live(session)
        let chunk = [UInt8](repeating: 0x41, count: min(session.stdinCredit, 4096))
        chunk.withUnsafeBytes { _ = session.sendStdin($0) }
    }
    func guestSessionError(_ session: GuestSession, _ error: ErrorMessage) { live(session) }
    func guestSessionLost(_ session: GuestSession) { end(session) }
}

nonisolated(unsafe) private var didSetup = false
private let guestHello: [UInt8] = Frame(.hello(Hello(role: .guest, agent: "fuzz", window: 1 << 20))).encoded()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGuestMux(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if !didSetup { fuzzProcessSetup(); didSetup = true }
    guard let control = data.pointee as UInt8?, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let stream = control & 0x20 == 0 ? guestHello + body : body

    guard let loop = try? EventLoop() else { fatalError("event loop") }
    let (ours, theirs) = fuzzSocketPair()
    let window: UInt32 = control & 1 == 0 ? ProtocolConstants.defaultWindow : 64
    let connection = FramedConnection(fd: ours, loop: loop, label: "fuzz")
    let mux = GuestMux(connection: connection, outputWindow: window)
    var closed = 0
    mux.onClosed = { _ in closed += 1 }
    do { try connection.start(initialBytes: stream) } catch { fatalError("start: \(error)") }
    mux.sendHello()
    let delegate = FuzzMuxDelegate(window: Int(window), consume: control & 2 == 0)
    var sessions: [GuestSession] = []
    for i in 0..<3 {
        sessions.append(mux.exec(ExecRequest(session: 0, argv: ["/bin/x\(i)"], stdin: true), delegate: delegate))
    }
    precondition(sessions.map(\.id) == [1, 2, 3])

    loop.post { loop.stop() }
    do { try loop.run() } catch { fatalError("loop: \(error)") }
    if control & 4 != 0, !connection.isClosed {
        sessions[0].signal(SIGTERM); sessions[1].closeStdin(); sessions[2].resize(rows: 1, cols: 1)
    }

    var checker = FuzzOutputChecker(control: control)
    checker.drain(theirs) {
        switch $0 {
        case .hello, .exec, .stdin, .stdinClose, .window, .signal, .resize, .exitAck, .ping, .pong, .shutdown, .error: true
        default: false
        }
    }
    connection.close()
    precondition(closed == 1, "onClosed called \(closed) times")
    for s in sessions { precondition(delegate.terminal.contains(s.id), "session \(s.id) never ended") }
    theirs.close()
    return 0
}
