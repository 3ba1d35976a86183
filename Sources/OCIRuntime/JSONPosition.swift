/// Where a JSON text first goes wrong, as `line L, column C` (1-based, columns in bytes).
///
/// `JSONDecoder` says only "not valid JSON", and accepts some text that is not JSON (a trailing comma) which Go's
/// decoder, and so runc, refuses. This RFC 8259 syntax scan runs before it: syntax only (no limits on numbers,
/// no duplicate keys), stopping at the first error, linear in the text (config.json is a few KiB).
struct JSONPosition {
    private let b: [UInt8]
    private var i = 0

    private init(_ bytes: [UInt8]) { b = bytes }

    /// Nil when the text is syntactically valid JSON.
    static func firstError(in bytes: [UInt8]) -> String? {
        var scan = JSONPosition(bytes)
        do throws(Stop) {
            try scan.value(depth: 0)
            scan.skipSpace()
            if scan.i < bytes.count { throw Stop() }
            return nil
        } catch {
            return scan.position
        }
    }

    private struct Stop: Error {}

    /// Deep enough for any config.json, shallow enough for the stack.
    private static let maxDepth = 512

    private var position: String {
        var line = 1
        var lineStart = 0
        for (offset, byte) in b.prefix(i).enumerated() where byte == 0x0A {
            line += 1
            lineStart = offset + 1
        }
        return "line \(line), column \(i - lineStart + 1)"
    }

    private var peek: UInt8? { i < b.count ? b[i] : nil }

    private mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func expect(_ c: UInt8) throws(Stop) {
        guard peek == c else { throw Stop() }
        i += 1
    }

    private mutating func value(depth: Int) throws(Stop) {
        guard depth < Self.maxDepth else { throw Stop() }
        skipSpace()
        guard let c = peek else { throw Stop() }
        switch c {
        case UInt8(ascii: "{"):
            i += 1
            skipSpace()
            if peek == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipSpace()
                try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: "}") { i += 1; return }
                try expect(UInt8(ascii: ","))
            }
        case UInt8(ascii: "["):
            i += 1
            skipSpace()
            if peek == UInt8(ascii: "]") { i += 1; return }
            while true {
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: "]") { i += 1; return }
                try expect(UInt8(ascii: ","))
            }
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw Stop()
        }
    }

    private mutating func string() throws(Stop) {
        try expect(UInt8(ascii: "\""))
        while let c = peek {
            switch c {
            case UInt8(ascii: "\""): i += 1; return
            case UInt8(ascii: "\\"):
                i += 1
                guard let e = peek else { throw Stop() }
                if e == UInt8(ascii: "u") {
                    i += 1
                    for _ in 0..<4 {
                        guard let h = peek, h.isHexDigit else { throw Stop() }
                        i += 1
                    }
                } else {
                    guard Array("\"\\/bfnrt".utf8).contains(e) else { throw Stop() }
                    i += 1
                }
            case 0..<0x20: throw Stop()
            default: i += 1
            }
        }
        throw Stop()
    }

    private mutating func literal(_ word: StaticString) throws(Stop) {
        for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) { try expect(byte) }
    }

    private mutating func number() throws(Stop) {
        if peek == UInt8(ascii: "-") { i += 1 }
        guard let first = peek, first.isDigit else { throw Stop() }
        i += 1
        if first != UInt8(ascii: "0") { while let c = peek, c.isDigit { i += 1 } }
        if peek == UInt8(ascii: ".") {
            i += 1
            try digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            try digits()
        }
    }

    private mutating func digits() throws(Stop) {
        guard let c = peek, c.isDigit else { throw Stop() }
        while let c = peek, c.isDigit { i += 1 }
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    fileprivate var isHexDigit: Bool { isDigit || (self | 0x20 >= 0x61 && self | 0x20 <= 0x66) }
}
