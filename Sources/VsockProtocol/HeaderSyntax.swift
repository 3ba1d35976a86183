/// A strict, single-pass RFC 8259 check of a frame header, run before the header is parsed into a
/// ``HeaderValue`` and decoded.
///
/// Strictness is settled here, from the bytes, so that what the decoder would tolerate does not matter:
/// - anything that is not strict JSON (leading zeros, bad escapes, raw control characters, invalid UTF-8, a
///   lone UTF-16 surrogate, trailing bytes, nesting deeper than ``maxDepth``), a top level that is not an object,
///   or a key repeated within one object → ``Verdict/malformed(_:)`` (`malformed_header`);
/// - a number with a fraction or exponent (`2.0`, `1e2`) → ``Verdict/nonInteger(paths:)``, the key paths where
///   they sit: `Message.decode` answers `invalid_message` when one of them is a field of the message (no
///   version-1 field is fractional), and ignores them in unknown fields (PROTOCOL.md §9).
///
/// It allocates only for keys written with escapes and for objects with many keys; a header is at most 64 KiB.
struct HeaderSyntax {
    /// Headers nest at most 4 levels; the bound keeps the recursion shallow on hostile input.
    static let maxDepth = 64

    enum Verdict: Equatable {
        case valid
        case malformed(String)
        /// Key paths (array positions left out) of the first few numbers written with a fraction or exponent.
        case nonInteger(paths: [[String]])
    }

    static func check(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        var scan = HeaderSyntax(b: bytes)
        do throws(Malformed) {
            scan.skipSpace()
            guard scan.peek == .openBrace else { throw Malformed("not a JSON object") }
            try scan.value(depth: 0)
            scan.skipSpace()
            guard scan.i == bytes.count else { throw Malformed("bytes after the JSON object") }
        } catch {
            return .malformed(error.reason)
        }
        if !scan.nonIntegerPaths.isEmpty { return .nonInteger(paths: scan.nonIntegerPaths) }
        return .valid
    }

    private struct Malformed: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// An object key: a range of the header when written without escapes, else its decoded UTF-8.
    private enum Key {
        case raw(Range<Int>)
        case decoded([UInt8])
    }

    private let b: UnsafeRawBufferPointer
    private var i = 0
    private var nonIntegerPaths: [[String]] = []
    /// The keys from the top-level object down to the value being scanned.
    private var path: [Key] = []
    /// Keys of the objects being scanned, innermost last (one shared stack: one allocation per header).
    private var keys: [Key] = []

    private init(b: UnsafeRawBufferPointer) { self.b = b }

    private var peek: UInt8? { i < b.count ? b[i] : nil }

    private mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func value(depth: Int) throws(Malformed) {
        guard depth < Self.maxDepth else { throw Malformed("nested deeper than \(Self.maxDepth) levels") }
        skipSpace()
        guard let c = peek else { throw Malformed("unexpected end of header") }
        switch c {
        case .openBrace: try object(depth: depth + 1)
        case .openBracket: try array(depth: depth + 1)
        case .quote: _ = try string(asKey: false)
        case .minus, UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw Malformed("unexpected byte 0x\(String(c, radix: 16)) at offset \(i)")
        }
    }

    private mutating func object(depth: Int) throws(Malformed) {
        i += 1
        let first = keys.count
        defer { keys.removeSubrange(first...) }
        // Above a handful of keys, a hash set keeps the duplicate check linear on a hostile 64 KiB header.
        var hashed: Set<[UInt8]>?
        skipSpace()
        if peek == .closeBrace { i += 1; return }
        while true {
            skipSpace()
            guard peek == .quote else { throw Malformed("expected a string key at offset \(i)") }
            let key = try string(asKey: true)
            if hashed != nil {
                guard hashed?.insert(bytes(of: key)).inserted == true else { throw duplicate(key) }
            } else {
                for earlier in keys[first...] where same(earlier, key) { throw duplicate(key) }
                keys.append(key)
                if keys.count - first > 16 { hashed = Set(keys[first...].map(bytes(of:))) }
            }
            skipSpace()
            guard peek == .colon else { throw Malformed("expected ':' at offset \(i)") }
            i += 1
            path.append(key)
            try value(depth: depth)
            path.removeLast()
            skipSpace()
            switch peek {
            case .comma: i += 1
            case .closeBrace: i += 1; return
            default: throw Malformed("expected ',' or '}' at offset \(i)")
            }
        }
    }

    private mutating func array(depth: Int) throws(Malformed) {
        i += 1
        skipSpace()
        if peek == .closeBracket { i += 1; return }
        while true {
            try value(depth: depth)
            skipSpace()
            switch peek {
            case .comma: i += 1
            case .closeBracket: i += 1; return
            default: throw Malformed("expected ',' or ']' at offset \(i)")
            }
        }
    }

    private mutating func number() throws(Malformed) {
        if peek == .minus { i += 1 }
        guard let lead = peek, lead.isDigit else { throw Malformed("bad number at offset \(i)") }
        i += 1
        if lead == UInt8(ascii: "0"), let next = peek, next.isDigit { throw Malformed("number with a leading zero") }
        skipDigits()
        var integral = true
        if peek == UInt8(ascii: ".") {
            i += 1
            guard let d = peek, d.isDigit else { throw Malformed("bad fraction at offset \(i)") }
            skipDigits()
            integral = false
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == .plus || peek == .minus { i += 1 }
            guard let d = peek, d.isDigit else { throw Malformed("bad exponent at offset \(i)") }
            skipDigits()
            integral = false
        }
        if !integral && nonIntegerPaths.count < 8 { nonIntegerPaths.append(path.map(string(of:))) }
    }

    private mutating func skipDigits() {
        while let c = peek, c.isDigit { i += 1 }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let count = word.utf8CodeUnitCount
        guard b.count - i >= count else { throw Malformed("unexpected end of header") }
        for k in 0..<count where b[i + k] != word.utf8Start[k] { throw Malformed("bad literal at offset \(i)") }
        i += count
    }

    /// Scans a string from its opening quote. Keys written with escapes are decoded so that `"a"` and
    /// `"\u0061"` count as the same key.
    private mutating func string(asKey: Bool) throws(Malformed) -> Key {
        i += 1
        let start = i
        var decoded: [UInt8]?
        while i < b.count {
            let c = b[i]
            // The hot path: printable ASCII other than `"` and `\`.
            if c >= 0x20 && c < 0x80 && c != .quote && c != .backslash {
                if decoded != nil { decoded?.append(c) }
                i += 1
                continue
            }
            if c == .quote {
                i += 1
                if let decoded { return .decoded(decoded) }
                return .raw(start..<(i - 1))
            }
            if c == .backslash {
                if asKey && decoded == nil { decoded = Array(b[start..<i]) }
                let scalar = try escape()
                if asKey { decoded?.append(contentsOf: Array(String(Character(scalar)).utf8)) }
                continue
            }
            guard c >= 0x20 else { throw Malformed("control character in a string at offset \(i)") }
            let sequence = i
            try utf8Sequence()
            if asKey, decoded != nil { decoded?.append(contentsOf: b[sequence..<i]) }
        }
        throw Malformed("unterminated string")
    }

    /// One escape sequence from its backslash (``decodeEscape(_:at:)``), with this scan's error texts.
    private mutating func escape() throws(Malformed) -> Unicode.Scalar {
        let at = i
        switch Self.decodeEscape(b, at: &i) {
        case .success(let scalar): return scalar
        case .failure(.unterminated): throw Malformed("unterminated string")
        case .failure(.loneSurrogate): throw Malformed("lone UTF-16 surrogate")
        case .failure(.badUnicodeEscape): throw Malformed("bad \\u escape")
        case .failure(.badEscape): throw Malformed("bad escape at offset \(at)")
        }
    }

    enum EscapeError: Error { case unterminated, badEscape, badUnicodeEscape, loneSurrogate }

    /// Decodes the escape sequence whose backslash is at `i` and moves `i` past it. A `\u` high surrogate must
    /// be followed by a `\u` low one. Shared by this scan and the parser (``HeaderValue/parse(_:)``).
    static func decodeEscape(_ b: UnsafeRawBufferPointer, at i: inout Int) -> Result<Unicode.Scalar, EscapeError> {
        guard i + 1 < b.count else { return .failure(.unterminated) }
        let c = b[i + 1]
        i += 2
        switch c {
        case .quote, .backslash, UInt8(ascii: "/"): return .success(Unicode.Scalar(c))
        case UInt8(ascii: "b"): return .success("\u{08}")
        case UInt8(ascii: "f"): return .success("\u{0C}")
        case UInt8(ascii: "n"): return .success("\n")
        case UInt8(ascii: "r"): return .success("\r")
        case UInt8(ascii: "t"): return .success("\t")
        case UInt8(ascii: "u"):
            guard let unit = hex4(b, at: &i) else { return .failure(.badUnicodeEscape) }
            if (0xDC00...0xDFFF).contains(unit) { return .failure(.loneSurrogate) }
            if (0xD800...0xDBFF).contains(unit) {
                guard i + 1 < b.count, b[i] == .backslash, b[i + 1] == UInt8(ascii: "u") else { return .failure(.loneSurrogate) }
                i += 2
                guard let low = hex4(b, at: &i) else { return .failure(.badUnicodeEscape) }
                guard (0xDC00...0xDFFF).contains(low) else { return .failure(.loneSurrogate) }
                let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                guard let scalar = Unicode.Scalar(value) else { return .failure(.badUnicodeEscape) }
                return .success(scalar)
            }
            guard let scalar = Unicode.Scalar(unit) else { return .failure(.badUnicodeEscape) }
            return .success(scalar)
        default: return .failure(.badEscape)
        }
    }

    private static func hex4(_ b: UnsafeRawBufferPointer, at i: inout Int) -> UInt16? {
        guard b.count - i >= 4 else { return nil }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard let digit = b[i].hexDigitValue else { return nil }
            unit = unit << 4 | UInt16(digit)
            i += 1
        }
        return unit
    }

    /// One UTF-8 encoded scalar (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
    private mutating func utf8Sequence() throws(Malformed) {
        let c = b[i]
        if c < 0x80 { i += 1; return }
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; second = 0x80...0x9F
        case 0xF0: length = 4; second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; second = 0x80...0x8F
        default: throw Malformed("invalid UTF-8 at offset \(i)")
        }
        guard b.count - i >= length, second.contains(b[i + 1]) else { throw Malformed("invalid UTF-8 at offset \(i)") }
        for k in 2..<length where !(0x80...0xBF).contains(b[i + k]) { throw Malformed("invalid UTF-8 at offset \(i)") }
        i += length
    }

    private func bytes(of key: Key) -> [UInt8] {
        switch key {
        case .raw(let range): Array(b[range])
        case .decoded(let bytes): bytes
        }
    }

    private func same(_ x: Key, _ y: Key) -> Bool {
        switch (x, y) {
        case (.raw(let r), .raw(let s)): r.count == s.count && b[r].elementsEqual(b[s])
        case (.raw(let r), .decoded(let d)), (.decoded(let d), .raw(let r)): r.count == d.count && b[r].elementsEqual(d)
        case (.decoded(let d), .decoded(let e)): d == e
        }
    }

    private func string(of key: Key) -> String { String(decoding: bytes(of: key), as: UTF8.self) }

    private func duplicate(_ key: Key) -> Malformed {
        Malformed("duplicate key \"\(string(of: key).prefix(64))\"")
    }
}

/// JSON punctuation, for the header scanners and the codec.
extension UInt8 {
    static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    static let colon = UInt8(ascii: ":"), comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-"), plus = UInt8(ascii: "+")
    var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    /// The value of a hexadecimal digit (either case), nil for any other byte.
    var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
