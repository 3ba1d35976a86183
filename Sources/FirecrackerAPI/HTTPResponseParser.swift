/// A parsed HTTP/1.x response from the Firecracker API.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }
}

/// Incremental parser for the responses Firecracker's micro_http sends: a status line that may have no reason
/// phrase (`HTTP/1.1 204 \r\n`), headers, then a body framed by Content-Length (absent on 204).
///
/// Hostile or broken input yields an error, never a trap; sizes are bounded.
public struct HTTPResponseParser: Sendable {
    public static let maxHeadBytes = 16 * 1024
    public static let maxBodyBytes = 1 << 20

    public enum ParseError: Error, Equatable, Sendable {
        case headTooLarge
        case badStatusLine(String)
        case badHeader(String)
        case bodyTooLarge(Int)
    }

    /// A response head that has been parsed while its body is still arriving.
    private struct Head {
        var status: Int
        var headers: [(String, String)]
        var bodyStart: Int
        /// From Content-Length, or implied by the status; nil means "until end of file".
        var bodyLength: Int?
    }

    private var buffer: [UInt8] = []
    /// Where the search for the blank line that ends the head resumes: bytes before it were already searched.
    private var scanFrom = 0
    private var head: Head?

    public init() {}

    /// Adds bytes read from the socket.
    public mutating func append(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete response, or nil if more bytes are needed. Pass `eof: true` once the peer has closed:
    /// a response without Content-Length then ends at EOF.
    ///
    /// Each byte is searched once and each head parsed once, however the response is split across reads.
    public mutating func next(eof: Bool = false) throws(ParseError) -> HTTPResponse? {
        if head == nil {
            guard let headEnd = findHeadEnd() else {
                if buffer.count > Self.maxHeadBytes { throw .headTooLarge }
                return nil
            }
            head = try Self.parseHead(buffer[..<headEnd], bodyStart: headEnd + 4)
        }
        guard let head else { return nil }
        let available = buffer.count - head.bodyStart
        let bodyLength: Int
        if let length = head.bodyLength {
            bodyLength = length
        } else if eof {
            guard available <= Self.maxBodyBytes else { throw .bodyTooLarge(available) }
            bodyLength = available
        } else {
            if available > Self.maxBodyBytes { throw .bodyTooLarge(available) }
            return nil
        }
        guard available >= bodyLength else { return nil }
        let body = Array(buffer[head.bodyStart..<(head.bodyStart + bodyLength)])
        buffer.removeSubrange(0..<(head.bodyStart + bodyLength))
        self.head = nil
        scanFrom = 0
        if (100..<200).contains(head.status) { return try next(eof: eof) }  // interim (100 Continue): skip it
        return HTTPResponse(status: head.status, headers: head.headers, body: body)
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>, bodyStart: Int) throws(ParseError) -> Head {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.isEmpty ? "" : lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status)
        else { throw .badStatusLine(String(statusLine.prefix(80))) }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .badHeader(String(line.prefix(80))) }
            headers.append((trimmingSpaces(line[..<colon]), trimmingSpaces(line[line.index(after: colon)...])))
        }
        let bodyLength: Int?
        if let lengthHeader = headers.first(where: { $0.0.lowercased() == "content-length" })?.1 {
            guard let n = Int(lengthHeader), n >= 0 else { throw .badHeader("Content-Length: \(lengthHeader.prefix(20))") }
            guard n <= maxBodyBytes else { throw .bodyTooLarge(n) }
            bodyLength = n
        } else if status == 204 || status == 304 || (100..<200).contains(status) {
            bodyLength = 0
        } else {
            bodyLength = nil
        }
        return Head(status: status, headers: headers, bodyStart: bodyStart, bodyLength: bodyLength)
    }

    /// The offset of the `\r\n\r\n` that ends the head, searching only bytes not searched before.
    private mutating func findHeadEnd() -> Int? {
        var i = scanFrom
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
            i += 1
        }
        scanFrom = max(0, buffer.count - 3)
        return nil
    }
}

/// A header name or value without the spaces and tabs around it (RFC 9112 §5: optional whitespace).
private func trimmingSpaces(_ text: Substring) -> String {
    var s = text
    while s.first == " " || s.first == "\t" { s.removeFirst() }
    while s.last == " " || s.last == "\t" { s.removeLast() }
    return String(s)
}

/// Builds an HTTP/1.1 request the way Firecracker wants it: Content-Length, never chunked.
public enum HTTPRequestEncoder {
    public static func encode(method: String, path: String, body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }
}
