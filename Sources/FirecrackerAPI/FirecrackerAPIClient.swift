#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSystem

/// A client for Firecracker's HTTP API on its Unix socket: one keep-alive connection, one request at a time
/// (Firecracker handles requests strictly in order), a deadline on every answer.
///
/// Boot-time requests block (`put`); once the supervisor's event loop runs, requests go through
/// ``send(_:_:_:on:timeout:completion:)``, which never blocks.
public final class FirecrackerAPIClient {
    public let socketPath: String
    var connection: FileDescriptor?
    private var parser = HTTPResponseParser()
    /// Every request answered and the status it got, in order.
    public private(set) var log: [(method: String, path: String, status: Int)] = []
    /// How long a blocking request waits for its answer.
    public var requestTimeout: Duration = .seconds(10)

    public init(socketPath: String) { self.socketPath = socketPath }

    deinit { connection?.close() }

    /// Waits until the API socket accepts connections and answers `GET /`, or the deadline passes.
    /// `vmmAlive` is polled so a VMM that died early fails fast instead of at the deadline.
    public func waitUntilReady(deadline: Clock.Instant, vmmAlive: () -> Bool) throws(FirecrackerAPIError) {
        var lastError: (any Error & Sendable)?
        while true {
            do {
                connection = try UnixSocket.connect(path: socketPath)
                parser = HTTPResponseParser()
                // A socket that accepted gets its full answer time even past the deadline: a slow-starting VMM
                // is not a failed one.
                let response = try exchange(method: "GET", path: "/", body: nil, timeout: .seconds(5))
                if response.status == 200 { return }
                lastError = FirecrackerAPIError(.rejected, "GET / answered \(response.status)", status: response.status)
            } catch {
                lastError = error
            }
            disconnect()
            guard vmmAlive() else { throw FirecrackerAPIError(.vmmExited, "the VMM exited before its API socket was ready") }
            guard !deadline.hasPassed else {
                throw FirecrackerAPIError(.unreachable, "the VMM's API socket \(socketPath) did not answer in time",
                                          cause: lastError)
            }
            Clock.sleep(.milliseconds(5))
        }
    }

    /// `PUT`s a JSON body and blocks until the answer; a non-2xx answer becomes a `rejected` error quoting
    /// Firecracker's `fault_message` verbatim.
    public func put(_ path: String, _ body: some Encodable) throws(FirecrackerAPIError) {
        try request("PUT", path, body)
    }

    /// `PATCH`es a JSON body and blocks until the answer (as ``put(_:_:)``).
    public func patch(_ path: String, _ body: some Encodable) throws(FirecrackerAPIError) {
        try request("PATCH", path, body)
    }

    private func request(_ method: String, _ path: String, _ body: some Encodable) throws(FirecrackerAPIError) {
        let response: HTTPResponse
        do {
            response = try exchange(method: method, path: path, body: FirecrackerAPI.json(body), timeout: requestTimeout)
        } catch {
            disconnect()
            throw error
        }
        try check(response, method: method, path: path)
    }

    /// `GET`s `path` and blocks until the answer; returns the body of a 2xx answer.
    public func get(_ path: String) throws(FirecrackerAPIError) -> [UInt8] {
        let response: HTTPResponse
        do { response = try exchange(method: "GET", path: path, body: nil, timeout: requestTimeout) } catch {
            disconnect()
            throw error
        }
        try check(response, method: "GET", path: path)
        return response.body
    }

    /// Records the answer and turns a non-2xx status into an error.
    func check(_ response: HTTPResponse, method: String, path: String) throws(FirecrackerAPIError) {
        log.append((method, path, response.status))
        guard (200..<300).contains(response.status) else {
            let fault = (try? JSONDecoder().decode(FirecrackerAPI.Fault.self, from: Data(response.body)))?.faultMessage
                ?? String(decoding: response.body.prefix(1024), as: UTF8.self)
            throw FirecrackerAPIError(.rejected, "Firecracker API \(method) \(path) → \(response.status): \(fault)",
                                      status: response.status)
        }
    }

    /// Hands the open connection to a non-blocking request (nil when there is none).
    func takeConnection() -> FileDescriptor? {
        defer { connection = nil }
        return connection
    }

    /// Takes back a connection a non-blocking request finished with cleanly, for the next request.
    func returnConnection(_ fd: FileDescriptor, parser: HTTPResponseParser) {
        guard connection == nil else { return fd.close() }
        connection = fd
        self.parser = parser
    }

    private func exchange(method: String, path: String, body: [UInt8]?,
                          timeout: Duration) throws(FirecrackerAPIError) -> HTTPResponse {
        let where_ = "Firecracker API \(method) \(path)"
        if connection == nil {
            do { connection = try UnixSocket.connect(path: socketPath) } catch {
                throw FirecrackerAPIError(.unreachable, "\(where_): cannot connect to \(socketPath)", cause: error)
            }
            parser = HTTPResponseParser()
        }
        guard let fd = connection else { throw FirecrackerAPIError(.unreachable, "\(where_): not connected") }
        do { try fd.writeAll(HTTPRequestEncoder.encode(method: method, path: path, body: body)) } catch {
            throw FirecrackerAPIError(.connectionFailed, "\(where_): cannot send", cause: error)
        }
        let deadline = Clock.deadline(after: timeout)
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            do {
                if let response = try parser.next() { return response }
            } catch {
                throw FirecrackerAPIError(.malformedResponse, "\(where_): bad response", cause: error)
            }
            let readable: Bool
            do { readable = try fd.waitReadable(until: deadline) } catch {
                throw FirecrackerAPIError(.connectionFailed, "\(where_): poll", cause: error)
            }
            guard readable else { throw FirecrackerAPIError(.timedOut, "\(where_): no answer within \(timeout)") }
            let n: Int?
            do { n = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) } } catch {
                throw FirecrackerAPIError(.connectionFailed, "\(where_): cannot read the answer", cause: error)
            }
            guard let n else { continue }
            if n == 0 {
                if let response = try? parser.next(eof: true) { return response }
                throw FirecrackerAPIError(.connectionFailed, "\(where_): Firecracker closed the API connection")
            }
            parser.append(buffer[..<n])
        }
    }

    func disconnect() {
        connection?.close()
        connection = nil
    }
}
