/// A JSON value of a frame header, as the protocol's own codec sees it.
///
/// VsockProtocol codes its headers itself (HeaderCoding.swift, MessageCoding.swift) instead of with Foundation's
/// `JSONEncoder`/`JSONDecoder`: vm-init links no Foundation at all, which keeps the static binary, its resident
/// pages and its start-up small (the first `JSONEncoder` use was two thirds of vm-init's instructions before its
/// first byte: BENCHMARKS.md §8). Numbers stay as written until a field asks for one, so an integer field gets
/// exactly the digits that were sent.
indirect enum HeaderValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The literal, in strict JSON number syntax (``HeaderSyntax`` checked it).
    case number(String)
    case string(String)
    case array([HeaderValue])
    /// Members in the order written (a header has a few; lookups are linear). Keys are unique: ``HeaderSyntax``
    /// refuses a repeated key, and the encoder replaces one.
    case object([Member])

    struct Member: Equatable, Sendable {
        var key: String
        var value: HeaderValue
    }

    /// The member `key` of an object; nil for a missing key or a value that is not an object.
    subscript(key: String) -> HeaderValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// Whether `path` (object keys; arrays are looked through) leads to a value.
    func contains(_ path: ArraySlice<String>) -> Bool {
        guard let head = path.first else { return true }
        switch self {
        case .object(let members): return members.first { $0.key == head }?.value.contains(path.dropFirst()) ?? false
        case .array(let elements): return elements.contains { $0.contains(path) }
        default: return false
        }
    }

    /// What a mismatch message calls this value ("found a string instead").
    var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "a string"
        case .array: "an array"
        case .object: "a dictionary"
        }
    }
}

// MARK: - Parsing

extension HeaderValue {
    /// Parses one JSON value that fills `bytes`. Meant for bytes ``HeaderSyntax`` has accepted, but total on any
    /// input: whatever is not JSON gives nil, never a trap. Nesting is bounded by ``HeaderSyntax/maxDepth``.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> HeaderValue? {
        var parser = Parser(b: bytes)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.i == bytes.count ? value : nil
    }

    static func parse(_ bytes: [UInt8]) -> HeaderValue? { bytes.withUnsafeBytes { parse($0) } }

    private struct Parser {
        let b: UnsafeRawBufferPointer
        var i = 0

        init(b: UnsafeRawBufferPointer) { self.b = b }

        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
        }

        mutating func value(depth: Int) -> HeaderValue? {
            guard depth < HeaderSyntax.maxDepth else { return nil }
            skipSpace()
            guard let c = peek else { return nil }
            switch c {
            case .openBrace: return object(depth: depth + 1)
            case .openBracket: return array(depth: depth + 1)
            case .quote: return string().map { .string($0) }
            case .minus, UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return nil
            }
        }

        mutating func object(depth: Int) -> HeaderValue? {
            i += 1
            var members: [Member] = []
            skipSpace()
            if peek == .closeBrace { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard peek == .quote, let key = string() else { return nil }
                skipSpace()
                guard peek == .colon else { return nil }
                i += 1
                guard let value = value(depth: depth) else { return nil }
                members.append(Member(key: key, value: value))
                skipSpace()
                switch peek {
                case .comma: i += 1
                case .closeBrace: i += 1; return .object(members)
                default: return nil
                }
            }
        }

        mutating func array(depth: Int) -> HeaderValue? {
            i += 1
            var elements: [HeaderValue] = []
            skipSpace()
            if peek == .closeBracket { i += 1; return .array(elements) }
            while true {
                guard let element = value(depth: depth) else { return nil }
                elements.append(element)
                skipSpace()
                switch peek {
                case .comma: i += 1
                case .closeBracket: i += 1; return .array(elements)
                default: return nil
                }
            }
        }

        mutating func literal(_ word: StaticString, _ result: HeaderValue) -> HeaderValue? {
            let count = word.utf8CodeUnitCount
            guard b.count - i >= count else { return nil }
            for k in 0..<count where b[i + k] != word.utf8Start[k] { return nil }
            i += count
            return result
        }

        /// The literal as written; its grammar is ``HeaderSyntax``'s to check.
        mutating func number() -> HeaderValue? {
            let start = i
            while let c = peek, c.isDigit || c == .minus || c == .plus || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { i += 1 }
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
        }

        /// A string from its opening quote. Without escapes the bytes are taken as they are (valid UTF-8 once
        /// ``HeaderSyntax`` passed them; otherwise repaired, never trusted).
        mutating func string() -> String? {
            i += 1
            let start = i
            while let c = peek, c != .quote, c != .backslash { i += 1 }
            guard let stop = peek else { return nil }
            if stop == .quote {
                defer { i += 1 }
                return String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            }
            var bytes = Array(UnsafeRawBufferPointer(rebasing: b[start..<i]))
            while let c = peek {
                switch c {
                case .quote:
                    i += 1
                    return String(decoding: bytes, as: UTF8.self)
                case .backslash:
                    guard let scalar = escape() else { return nil }
                    bytes.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    bytes.append(c)
                    i += 1
                }
            }
            return nil
        }

        /// One escape from its backslash (``HeaderSyntax/decodeEscape(_:at:)``).
        mutating func escape() -> Unicode.Scalar? {
            guard case .success(let scalar) = HeaderSyntax.decodeEscape(b, at: &i) else { return nil }
            return scalar
        }
    }
}

// MARK: - Writing

extension HeaderValue {
    /// The canonical bytes: no spaces, object keys sorted by their UTF-8 bytes, strings escaped as
    /// PROTOCOL.md §2 writes them (`"` `\` and control characters only; `/` and non-ASCII as they are).
    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let v): out.append(contentsOf: (v ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            out.append(.openBracket)
            for (n, element) in elements.enumerated() {
                if n > 0 { out.append(.comma) }
                element.write(into: &out)
            }
            out.append(.closeBracket)
        case .object(let members):
            out.append(.openBrace)
            let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (n, member) in sorted.enumerated() {
                if n > 0 { out.append(.comma) }
                Self.writeString(member.key, into: &out)
                out.append(.colon)
                member.value.write(into: &out)
            }
            out.append(.closeBrace)
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(.quote)
        for c in s.utf8 {
            switch c {
            case .quote: out.append(.backslash); out.append(.quote)
            case .backslash: out.append(.backslash); out.append(.backslash)
            case 0x08: out.append(.backslash); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(.backslash); out.append(UInt8(ascii: "f"))
            case 0x0A: out.append(.backslash); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(.backslash); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(.backslash); out.append(UInt8(ascii: "t"))
            case 0x00..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigit(c >> 4))
                out.append(hexDigit(c & 0xF))
            default: out.append(c)
            }
        }
        out.append(.quote)
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10 }
}
