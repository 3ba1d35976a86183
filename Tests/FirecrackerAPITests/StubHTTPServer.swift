import Foundation
import Glibc

/// A scripted HTTP server on a Unix socket, served by one in-process thread: it accepts one connection and
/// answers each request with the next reply of its script, the way Firecracker's API would (or would not).
final class StubHTTPServer: @unchecked Sendable {  // mutable state is guarded by `lock`
    enum Reply: Sendable {
        /// These bytes, written in pieces with `pause` between them.
        case pieces([String], pause: Duration = .zero)
        /// No answer at all (a hung VMM); the connection stays open.
        case silence

        static func status(_ code: Int, body: String? = nil) -> Reply {
            guard let body else { return .pieces(["HTTP/1.1 \(code) \r\nServer: Firecracker API\r\n\r\n"]) }
            return .pieces(["HTTP/1.1 \(code) \r\nServer: Firecracker API\r\nContent-Type: application/json\r\n"
                            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"])
        }
    }

    /// One request as received: head text and body bytes.
    struct Request: Sendable {
        var head: String
        var body: [UInt8]
        var requestLine: String { String(head.split(separator: "\r\n").first ?? "") }
        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var script: [Reply]
    private var received: [Request] = []

    init(script: [Reply]) throws {
        path = "/tmp/fcapi-stub-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        self.script = script
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard listener >= 0, bound == 0, listen(listener, 4) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        Thread.detachNewThread { [self] in self.serve() }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        unlink(path)
    }

    /// The requests received so far.
    var requests: [Request] { lock.withLock { received } }

    private func serve() {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // One request: head up to the blank line, then Content-Length bytes of body.
            var request: Request?
            while request == nil {
                if let end = Self.find(Array("\r\n\r\n".utf8), in: buffer) {
                    let head = String(decoding: buffer[..<end], as: UTF8.self)
                    var candidate = Request(head: head, body: [])
                    let length = Int(candidate.header("Content-Length") ?? "0") ?? 0
                    if buffer.count >= end + 4 + length {
                        candidate.body = Array(buffer[(end + 4)..<(end + 4 + length)])
                        buffer.removeFirst(end + 4 + length)
                        request = candidate
                        break
                    }
                }
                let n = chunk.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                buffer += chunk[..<n]
            }
            guard let request else { return }
            let reply: Reply = lock.withLock {
                received.append(request)
                return script.isEmpty ? .status(500, body: "{\"fault_message\":\"unscripted\"}") : script.removeFirst()
            }
            switch reply {
            case .silence:
                // Hold the connection without answering until the client goes away.
                while chunk.withUnsafeMutableBytes({ read(connection, $0.baseAddress, $0.count) }) > 0 {}
                return
            case .pieces(let pieces, let pause):
                for (index, piece) in pieces.enumerated() {
                    if index > 0 { Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds)) }
                    let bytes = Array(piece.utf8)
                    guard bytes.withUnsafeBytes({ write(connection, $0.baseAddress, $0.count) }) == bytes.count else { return }
                }
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
