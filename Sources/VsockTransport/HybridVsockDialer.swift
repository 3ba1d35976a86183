import LinuxSystem

/// Connects to a guest port through Firecracker's hybrid vsock: connect to the VM's vsock Unix socket, send
/// `CONNECT <port>\n` in one write, read `OK <host_port>\n`.
///
/// EOF before `OK` means nothing listens on the guest port yet (the guest answered RST), so it retries every
/// `retryInterval` until the deadline. Bytes that follow the `OK` line belong to the guest stream and are
/// returned with the connection (pass them to ``FramedConnection/start(initialBytes:)``).
public struct HybridVsockDialer: Sendable {
    public var udsPath: String
    public var port: UInt32
    /// How long one attempt may wait for the `OK` line (Firecracker queues the request until the guest's
    /// driver is up, with no timeout of its own).
    public var attemptTimeout: Duration = .seconds(2)
    public var retryInterval: Duration = .milliseconds(10)

    public init(udsPath: String, port: UInt32) { self.udsPath = udsPath; self.port = port }

    /// A connected stream, and guest bytes that arrived with the handshake.
    public struct Connection {
        public var fd: FileDescriptor
        public var leftover: [UInt8]
        public var hostPort: UInt32
        public var attempts: Int
    }

    /// Connects, retrying until `deadline`. `shouldContinue` is polled between attempts (e.g. "is the VMM
    /// still alive?"); returning false ends the wait with `.peerGone`; the deadline ends it with `.unreachable`.
    public func connect(deadline: Clock.Instant,
                        shouldContinue: () -> Bool = { true }) throws(TransportError) -> Connection {
        var attempts = 0
        var lastFailure = "no attempt made"
        while true {
            attempts += 1
            switch attempt() {
            case .success(var connection):
                connection.attempts = attempts
                return connection
            case .failure(let reason):
                lastFailure = reason
            }
            guard shouldContinue() else {
                throw TransportError(.peerGone, "the VMM exited while waiting for the guest (\(lastFailure))")
            }
            guard Clock.now() + retryInterval < deadline else {
                throw TransportError(.unreachable,
                                     "guest port \(port) not reachable through \(udsPath) after \(attempts) attempts: \(lastFailure)")
            }
            Clock.sleep(retryInterval)
        }
    }

    private enum Attempt { case success(Connection), failure(String) }

    private func attempt() -> Attempt {
        let fd: FileDescriptor
        do { fd = try UnixSocket.connect(path: udsPath) } catch { return .failure("\(error)") }
        do throws(SystemError) {
            try fd.writeAll(Array("CONNECT \(port)\n".utf8))
            var received: [UInt8] = []
            let deadline = Clock.deadline(after: attemptTimeout)
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: received[..<newline], as: UTF8.self)
                    let words = line.split(whereSeparator: { $0 == " " || $0 == "\r" })
                    guard words.count == 2, words[0] == "OK", let hostPort = UInt32(words[1]) else {
                        fd.close()
                        return .failure("unexpected handshake reply \"\(line.prefix(40))\"")
                    }
                    return .success(Connection(fd: fd, leftover: Array(received[(newline + 1)...]),
                                               hostPort: hostPort, attempts: 0))
                }
                guard received.count <= 64 else { fd.close(); return .failure("handshake reply too long") }
                guard (try? fd.waitReadable(until: deadline)) ?? true else { fd.close(); return .failure("no OK within \(attemptTimeout)") }
                let read = chunk.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try fd.readSome(into: raw) } }
                switch try read.get() {
                case .wouldBlock: continue
                case .processed(0): fd.close(); return .failure("EOF before OK (guest not listening yet)")
                case .processed(let n): received += chunk[..<n]
                }
            }
        } catch {
            fd.close()
            return .failure("\(error)")
        }
    }
}
