/// The headers of the stream's hot path, coded in one pass: `stdin`, `stdout`, `stderr` and `window`, in their
/// canonical form (what ``Message/encodedHeader()`` writes, and what every implementation of PROTOCOL.md sends
/// in practice):
///
///     {"session":7,"type":"stdout"}
///     {"bytes":65536,"session":7,"type":"window"}
///
/// `decode` answers only for exactly those bytes (digits without leading zeros, in range) and returns what the
/// general path would; for anything else it returns nil and the caller takes the general path, which gives every
/// other form its meaning or its error. `VsockProtocolTests` check both directions against the general codec.
enum StdioHeader {
    static func encode(_ message: Message) -> [UInt8]? {
        let session: SessionID
        let type: StaticString
        var bytes: UInt32?
        switch message {
        case .stdin(let m): session = m.session; type = "stdin"
        case .stdout(let m): session = m.session; type = "stdout"
        case .stderr(let m): session = m.session; type = "stderr"
        case .window(let m): session = m.session; type = "window"; bytes = m.bytes
        default: return nil
        }
        var out: [UInt8] = []
        out.reserveCapacity(48)
        if let bytes {
            out.append(contentsOf: #"{"bytes":"#.utf8)
            appendDecimal(bytes, to: &out)
            out.append(contentsOf: #","session":"#.utf8)
        } else {
            out.append(contentsOf: #"{"session":"#.utf8)
        }
        appendDecimal(session, to: &out)
        out.append(contentsOf: #","type":""#.utf8)
        out.append(contentsOf: UnsafeRawBufferPointer(start: type.utf8Start, count: type.utf8CodeUnitCount))
        out.append(contentsOf: #""}"#.utf8)
        return out
    }

    static func decode(_ b: UnsafeRawBufferPointer) -> Message? {
        var i = 0
        var bytes: UInt32?
        if match(#"{"bytes":"#, b, &i) {
            guard let n = number(b, &i), match(#","session":"#, b, &i) else { return nil }
            bytes = n
        } else if !match(#"{"session":"#, b, &i) {
            return nil
        }
        guard let session = number(b, &i), match(#","type":""#, b, &i) else { return nil }
        let ref = SessionRef(session: session)
        let message: Message
        if let bytes {
            guard match(#"window"}"#, b, &i) else { return nil }
            message = .window(WindowUpdate(session: session, bytes: bytes))
        } else if match(#"stdout"}"#, b, &i) {
            message = .stdout(ref)
        } else if match(#"stderr"}"#, b, &i) {
            message = .stderr(ref)
        } else if match(#"stdin"}"#, b, &i) {
            message = .stdin(ref)
        } else {
            return nil
        }
        guard i == b.count, message.rangeProblem == nil else { return nil }
        return message
    }

    /// Consumes `literal` at `i` when the bytes there are exactly it.
    private static func match(_ literal: StaticString, _ b: UnsafeRawBufferPointer, _ i: inout Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard b.count - i >= count else { return false }
        for k in 0..<count where b[i + k] != literal.utf8Start[k] { return false }
        i += count
        return true
    }

    /// A canonical unsigned decimal (`0`, or no leading zero) that fits in 32 bits.
    private static func number(_ b: UnsafeRawBufferPointer, _ i: inout Int) -> UInt32? {
        let start = i
        var value: UInt64 = 0
        while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9"), i - start < 10 {
            value = value * 10 + UInt64(b[i] - UInt8(ascii: "0"))
            i += 1
        }
        let digits = i - start
        guard digits > 0, digits == 1 || b[start] != UInt8(ascii: "0"), value <= UInt64(UInt32.max) else { return nil }
        return UInt32(value)
    }

    private static func appendDecimal(_ value: UInt32, to out: inout [UInt8]) {
        guard value > 0 else { out.append(UInt8(ascii: "0")); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 { d[count] = UInt8(ascii: "0") + UInt8(v % 10); v /= 10; count += 1 }
            for k in stride(from: count - 1, through: 0, by: -1) { out.append(d[k]) }
        }
    }
}
