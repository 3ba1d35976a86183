import LinuxSystem

extension FirecrackerAPIClient {
    /// Sends one request without ever blocking the caller, for use inside an event loop (stopping a VM must not
    /// stall the loop that serves the control socket). The request reuses the open keep-alive connection; with
    /// none open it fails at once rather than make a connect that could block on a full backlog. The bytes are
    /// written when the socket takes them, the answer is read by `loop`'s handlers, and `completion` runs on the
    /// loop exactly once: with the 2xx response, or with an error (`rejected` for another status, `timedOut`
    /// after `timeout`).
    public func send(_ method: String, _ path: String, _ body: some Encodable, on loop: EventLoop, timeout: Duration,
                     completion: @escaping (Result<HTTPResponse, FirecrackerAPIError>) -> Void) {
        let request = HTTPRequestEncoder.encode(method: method, path: path, body: FirecrackerAPI.json(body))
        guard let fd = takeConnection() else {
            return completion(.failure(FirecrackerAPIError(.unreachable, "Firecracker API \(method) \(path): no open connection")))
        }
        LoopExchange(client: self, fd: fd, loop: loop, label: "Firecracker API \(method) \(path)", bytes: request,
                     completion: { [weak self] result in
                         guard case .success(let response) = result, let self else { return completion(result) }
                         do throws(FirecrackerAPIError) { try self.check(response, method: method, path: path) } catch {
                             return completion(.failure(error))
                         }
                         completion(result)
                     }).start(timeout: timeout)
    }
}

/// One request/answer on a non-blocking descriptor, driven by the event loop's readiness callbacks. It keeps
/// itself alive through its registration and timer, and releases both when it finishes.
private final class LoopExchange {
    private weak var client: FirecrackerAPIClient?
    private let fd: FileDescriptor
    private unowned let loop: EventLoop
    private let label: String
    private let request: [UInt8]
    private var sent = 0
    private var parser = HTTPResponseParser()
    private var completion: ((Result<HTTPResponse, FirecrackerAPIError>) -> Void)?
    private var timer: EventLoop.TimerID?

    init(client: FirecrackerAPIClient, fd: FileDescriptor, loop: EventLoop, label: String, bytes: [UInt8],
         completion: @escaping (Result<HTTPResponse, FirecrackerAPIError>) -> Void) {
        self.client = client
        self.fd = fd
        self.loop = loop
        self.label = label
        self.request = bytes
        self.completion = completion
    }

    func start(timeout: Duration) {
        do {
            try fd.setNonBlocking()
            try loop.register(fd, interest: [.read, .write]) { [self] events in self.ready(events) }
        } catch {
            return finish(.failure(FirecrackerAPIError(.connectionFailed, "\(label): cannot watch the socket", cause: error)),
                          keep: false)
        }
        timer = loop.addTimer(after: timeout) { [self] in
            self.timer = nil
            self.finish(.failure(FirecrackerAPIError(.timedOut, "\(self.label): no answer within \(timeout)")), keep: false)
        }
    }

    private func ready(_ events: EventLoop.Events) {
        guard completion != nil else { return }
        do {
            while sent < request.count {
                let n = try request.withUnsafeBytes { (raw) throws(SystemError) in
                    try fd.write(UnsafeRawBufferPointer(rebasing: raw[sent...]))
                }
                if n == 0 { return }  // the socket is full: wait for the next writable event
                sent += n
            }
            try loop.modify(fd, interest: .read)
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while let n = try buffer.withUnsafeMutableBytes({ (raw) throws(SystemError) in try fd.read(into: raw) }) {
                if n == 0 {
                    guard let response = try? parser.next(eof: true) else {
                        return finish(.failure(FirecrackerAPIError(.connectionFailed, "\(label): Firecracker closed the API connection")),
                                      keep: false)
                    }
                    return finish(.success(response), keep: false)
                }
                parser.append(buffer[..<n])
                do {
                    if let response = try parser.next() { return finish(.success(response), keep: true) }
                } catch {
                    return finish(.failure(FirecrackerAPIError(.malformedResponse, "\(label): bad response", cause: error)),
                                  keep: false)
                }
            }
        } catch {
            finish(.failure(FirecrackerAPIError(.connectionFailed, label, cause: error as? SystemError)), keep: false)
        }
    }

    /// Completes once; a cleanly answered connection goes back to the client for its next request.
    private func finish(_ result: Result<HTTPResponse, FirecrackerAPIError>, keep: Bool) {
        guard let completion else { return }
        self.completion = nil
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        loop.unregister(fd)
        if keep, let client, (try? fd.setNonBlocking(false)) != nil {
            client.returnConnection(fd, parser: parser)
        } else {
            fd.close()
        }
        completion(result)
    }
}
