import Glibc
import LinuxSystem

/// A blocking client for Firecracker's HTTP API on its Unix socket: one keep-alive connection, one request at
/// a time (Firecracker handles requests strictly in order), a deadline on every answer.
public final class FirecrackerAPIClient {
    public let socketPath: String
    private var connection: FileDescriptor?
    private var parser = HTTPResponseParser()
    /// Every request sent and the status it got, in order (for state and tests).
    public private(set) var log: [(method: String, path: String, status: Int)] = []

    public init(socketPath: String) { self.socketPath = socketPath }

    deinit { connection?.close() }

    /// Waits until the API socket accepts connections and answers `GET /`, or the deadline passes.
    /// `vmmAlive` is polled so a VMM that died early fails fast instead of at the deadline.
    public func waitUntilReady(deadline: ContinuousClock.Instant, vmmAlive: () -> Bool) throws(SupervisorError) {
        while true {
            if let fd = try? UnixSocket.connect(path: socketPath) {
                connection = fd
                parser = HTTPResponseParser()
                if let response = try? exchange(method: "GET", path: "/", body: nil, timeout: .seconds(5)),
                   response.status == 200 {
                    return
                }
                disconnect()
            }
            guard vmmAlive() else { throw SupervisorError(.bootFailed, "the VMM exited before its API socket was ready") }
            guard ContinuousClock.now < deadline else {
                throw SupervisorError(.bootFailed, "the VMM's API socket \(socketPath) did not answer in time")
            }
            usleep(5_000)
        }
    }

    /// `PUT`s a JSON body; a non-2xx answer becomes an error quoting Firecracker's `fault_message` verbatim.
    public func put(_ path: String, _ body: some Encodable) throws(SupervisorError) {
        try send(method: "PUT", path: path, body: FirecrackerAPI.json(body))
    }

    /// `PATCH`es a JSON body.
    public func patch(_ path: String, _ body: some Encodable) throws(SupervisorError) {
        try send(method: "PATCH", path: path, body: FirecrackerAPI.json(body))
    }

    /// `GET`s a path and returns the body.
    public func get(_ path: String) throws(SupervisorError) -> [UInt8] {
        try send(method: "GET", path: path, body: nil).body
    }

    @discardableResult
    private func send(method: String, path: String, body: [UInt8]?) throws(SupervisorError) -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try exchange(method: method, path: path, body: body, timeout: .seconds(10))
        } catch {
            disconnect()
            throw SupervisorError(.bootFailed, "Firecracker API \(method) \(path): \(error)")
        }
        log.append((method, path, response.status))
        guard (200..<300).contains(response.status) else {
            let fault = (try? JSONBody.decode(FirecrackerAPI.Fault.self, from: response.body))?.faultMessage
                ?? String(decoding: response.body.prefix(1024), as: UTF8.self)
            throw SupervisorError(.bootFailed, "Firecracker API \(method) \(path) → \(response.status): \(fault)")
        }
        return response
    }

    private func exchange(method: String, path: String, body: [UInt8]?, timeout: Duration) throws -> HTTPResponse {
        if connection == nil {
            connection = try UnixSocket.connect(path: socketPath)
            parser = HTTPResponseParser()
        }
        guard let fd = connection else { throw SystemError("connect", errno: ENOTCONN, socketPath) }
        try fd.writeAll(HTTPRequestEncoder.encode(method: method, path: path, body: body))
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if let response = try parser.next() { return response }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw SystemError("read", errno: ETIMEDOUT, "no answer from \(socketPath)") }
            var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            let ms = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&pfd, 1, ms) >= 0 || Glibc.errno == EINTR else { throw SystemError.last("poll") }
            guard pfd.revents != 0 else { continue }
            let n = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) }
            guard let n else { continue }
            if n == 0 {
                if let response = try parser.next(eof: true) { return response }
                throw SystemError("read", errno: ECONNRESET, "Firecracker closed the API connection")
            }
            parser.append(buffer[..<n])
        }
    }

    private func disconnect() {
        connection?.close()
        connection = nil
    }
}
