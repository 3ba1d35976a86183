import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

/// A FramedConnection under test on one end of a socketpair, and a blocking FrameChannel as its peer.
final class Pair {
    let loop: EventLoop
    let connection: FramedConnection
    let peer: FrameChannel
    var delivered: [Message] = []
    var refused: [ErrorCode] = []
    var closeError: SystemError?
    var closed = 0

    init(state: ConnectionState?, options: FramedConnection.Options = .supervisor) throws {
        loop = try EventLoop()
        let (ours, theirs) = try UnixSocket.socketPair()
        connection = FramedConnection(fd: ours, loop: loop, label: "test", options: options, state: state)
        peer = FrameChannel(fd: theirs)
        connection.onFrame = { [unowned self] in self.delivered.append($0.message) }
        connection.onRefused = { [unowned self] _, error in self.refused.append(error.code) }
        connection.onClose = { [unowned self] in self.closeError = $0; self.closed += 1 }
        try connection.start()
    }

    /// Runs the loop until `condition` holds or `timeout` passes; returns whether it held.
    @discardableResult
    func run(until condition: @escaping () -> Bool, timeout: Duration = .seconds(5)) throws -> Bool {
        try runLoop(loop, until: condition, timeout: timeout)
    }

    /// The next frame the peer receives.
    func peerReceive() throws -> Message {
        // The connection writes at the end of a loop turn: turn the loop until the peer has bytes.
        try run(until: { [peer] in (try? peer.fd.bytesAvailable()) ?? 0 > 0 || self.closed > 0 }, timeout: .seconds(5))
        return try peer.receive(timeout: .seconds(2)).message
    }
}

/// Turns `loop` until `condition` holds or `timeout` passes.
@discardableResult
func runLoop(_ loop: EventLoop, until condition: @escaping () -> Bool, timeout: Duration) throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    var held = condition()
    func check() {
        held = condition()
        if held || ContinuousClock.now >= deadline { loop.stop() } else { loop.addTimer(after: .milliseconds(2)) { check() } }
    }
    if held { return true }
    loop.post { check() }
    try loop.run()
    return held
}

extension Message {
    var errorCode: ErrorCode? { if case .error(let e) = self { e.code } else { nil } }
}
