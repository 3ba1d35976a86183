import LinuxSystem
import VsockTransport

/// `--metrics-listen`: an HTTP endpoint on the supervisor's loop serving `GET /metrics` (anything else is 404).
/// One request per connection (`Connection: close`); a request must arrive within 5 s and fit in 8 KiB. The
/// response is rendered by `render`, which answers on the loop once the guest's fresh numbers are in.
final class MetricsServer {
    private let listener: Listener
    private unowned let loop: EventLoop
    private let render: (@escaping (String) -> Void) -> Void
    private var clients: [Int32: Client] = [:]
    static let maxClients = 16

    private final class Client {
        let fd: FileDescriptor
        var request: [UInt8] = []
        var timer: EventLoop.TimerID?
        init(fd: FileDescriptor) { self.fd = fd }
    }

    /// `unix:PATH` (mode 0600, like control.sock) or `IPV4:PORT`.
    init(address: String, loop: EventLoop, render: @escaping (@escaping (String) -> Void) -> Void) throws(SystemError) {
        self.loop = loop
        self.render = render
        if address.hasPrefix("unix:") {
            let path = String(address.dropFirst(5))
            listener = try SystemControl.withFileCreationMask(0o177) { () throws(SystemError) in
                try Listener.unix(path: path, backlog: 16, loop: loop)
            }
        } else {
            guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
                throw SystemError("listen", errno: 22, "metrics address \(address) is not IPV4:PORT or unix:PATH")
            }
            let fd = try TCPSocket.listen(address: String(address[..<colon]), port: port)
            listener = Listener(listening: fd, kind: .unix, loop: loop)  // .unix: plain accept4, no vsock CID check
        }
        listener.onAccept = { [unowned self] fd, _, _ in self.accepted(fd) }
        try listener.start()
    }

    func close() {
        listener.close()
        for client in clients.values { finish(client) }
    }

    private func accepted(_ fd: FileDescriptor) {
        guard clients.count < Self.maxClients else { return fd.close() }
        let client = Client(fd: fd)
        do {
            try loop.register(fd, interest: .read) { [unowned self] _ in self.readable(client) }
        } catch {
            return fd.close()
        }
        clients[fd.rawValue] = client
        client.timer = loop.addTimer(after: .seconds(5)) { [unowned self] in self.finish(client) }
    }

    private func readable(_ client: Client) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let result = try? buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try client.fd.readSome(into: raw) }
        guard let result else { return finish(client) }
        guard let n = result.value else { return }  // would block
        guard n > 0 else { return finish(client) }
        client.request += buffer[..<n]
        guard client.request.count <= 8192 else { return respond(client, status: "431 Request Header Fields Too Large", body: "") }
        guard let end = client.request.indexOfHeaderEnd else { return }
        loop.unregister(client.fd)
        let line = String(decoding: client.request[..<end].prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0] == "GET", words[1] == "/metrics" || words[1].hasPrefix("/metrics?") else {
            return respond(client, status: "404 Not Found", body: "only GET /metrics is served\n")
        }
        render { [weak self, client] text in self?.respond(client, status: "200 OK", body: text) }
    }

    private func respond(_ client: Client, status: String, body: String) {
        guard clients[client.fd.rawValue] === client else { return }
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        // A small response into a fresh socket's buffer; a client that does not read gets what fits.
        try? client.fd.writeAll(Array((head + body).utf8))
        finish(client)
    }

    private func finish(_ client: Client) {
        guard clients.removeValue(forKey: client.fd.rawValue) != nil else { return }
        if let timer = client.timer { loop.cancelTimer(timer) }
        loop.unregister(client.fd)
        client.fd.close()
    }
}

extension Array where Element == UInt8 {
    /// The index of the blank line ending an HTTP request head (`\r\n\r\n` or `\n\n`).
    fileprivate var indexOfHeaderEnd: Int? {
        for i in indices.dropFirst(1) {
            if self[i] == 10, self[i - 1] == 10 { return i }
            if i >= 3, self[i] == 10, self[i - 1] == 13, self[i - 2] == 10, self[i - 3] == 13 { return i }
        }
        return nil
    }
}
