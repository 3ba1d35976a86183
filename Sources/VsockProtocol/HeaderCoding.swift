/// How every message header is coded: by hand, field by field, over the parsed JSON (``HeaderValue``), with no
/// `Codable`, no existentials and no runtime type names, so that the codec also builds where Swift has none of
/// them (Embedded Swift).
///
/// A message type says, in a few lines (MessageCoding.swift), which key holds which field; the field types
/// (integers, strings, booleans, wire names, arrays, string-keyed maps and nested objects) know how to read and
/// write themselves. Reading gives the messages, errors and error texts that the types' `Codable` conformances
/// give through ``HeaderDecoder`` (the differential tests in `VsockProtocolTests` hold the two to it), and writing
/// gives the same canonical bytes as ``HeaderEncoder``.

/// Where a value sits in a header, as the names of its coding path: object keys, and "Index N" for array elements
/// (`JSONDecoder`'s spelling, kept so that error texts do not change).
typealias HeaderPath = [String]

/// Why a header did not decode into a message, shaped as `DecodingError` (same kinds, paths and texts).
enum HeaderDecodingError: Error, Equatable {
    /// A required key is absent (`path` is the object's).
    case keyNotFound(key: String, path: HeaderPath)
    /// A value of the wrong kind.
    case typeMismatch(path: HeaderPath, description: String)
    /// `null` where a value is required.
    case valueNotFound(path: HeaderPath, description: String)
    /// A number out of the field's range.
    case dataCorrupted(path: HeaderPath, description: String)

    /// The `invalid_message` text for this error: "missing field …" or "bad value at …: …".
    var reason: String {
        switch self {
        case .keyNotFound(let key, _): "missing field \"\(key)\""
        case .typeMismatch(let path, let text), .valueNotFound(let path, let text), .dataCorrupted(let path, let text):
            "bad value at \"\(path.joined(separator: "."))\": \(text.prefix(120))"
        }
    }

    /// A value that is not of the kind `expected` (a Swift type's name, as `JSONDecoder` prints it).
    static func mismatch(_ expected: String, _ value: HeaderValue, _ path: HeaderPath) -> HeaderDecodingError {
        if value == .null {
            return .valueNotFound(path: path, description: "Cannot get \(expected) -- found null value instead")
        }
        return .typeMismatch(path: path, description: "Expected to decode \(expected) but found \(value.kindDescription) instead.")
    }
}

/// A value a header field can hold.
protocol HeaderField {
    /// Reads the value at `path`.
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError)
    /// The value as written into a header.
    var headerValue: HeaderValue { get }
}

/// A type coded as a JSON object of its own fields: every message, and the objects nested in them.
protocol HeaderObject: HeaderField {
    init(header object: HeaderReader) throws(HeaderDecodingError)
    func write(header object: inout HeaderWriter)
}

extension HeaderObject {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        try self.init(header: HeaderReader(value, at: path))
    }

    var headerValue: HeaderValue {
        var object = HeaderWriter()
        write(header: &object)
        return object.value
    }
}

/// An object's members, read by key. Unknown keys are ignored; a key whose value is `null` counts as absent for
/// an optional field and as a bad value for a required one.
struct HeaderReader {
    let members: [HeaderValue.Member]
    let path: HeaderPath

    init(members: [HeaderValue.Member], path: HeaderPath = []) {
        self.members = members
        self.path = path
    }

    /// The object at `path`, or the error for a value that is not one.
    init(_ value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        guard case .object(let members) = value else { throw .mismatch("Dictionary<String, HeaderValue>", value, path) }
        self.members = members
        self.path = path
    }

    private func member(_ key: String) -> HeaderValue? { members.first { $0.key == key }?.value }

    func required<T: HeaderField>(_ key: String) throws(HeaderDecodingError) -> T {
        guard let value = member(key) else { throw .keyNotFound(key: key, path: path) }
        return try T(header: value, at: path + [key])
    }

    func optional<T: HeaderField>(_ key: String) throws(HeaderDecodingError) -> T? {
        guard let value = member(key), value != .null else { return nil }
        return try T(header: value, at: path + [key])
    }
}

/// An object under construction; absent optionals are left out, and ``HeaderValue/write(into:)`` sorts the keys.
struct HeaderWriter {
    private(set) var members: [HeaderValue.Member] = []
    var value: HeaderValue { .object(members) }

    mutating func put<T: HeaderField>(_ key: String, _ field: T?) {
        guard let field else { return }
        members.append(.init(key: key, value: field.headerValue))
    }
}

// MARK: - Field types

extension String: HeaderField {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        guard case .string(let text) = value else { throw .mismatch("String", value, path) }
        self = text
    }
    var headerValue: HeaderValue { .string(self) }
}

extension Bool: HeaderField {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        guard case .bool(let flag) = value else { throw .mismatch("Bool", value, path) }
        self = flag
    }
    var headerValue: HeaderValue { .bool(self) }
}

/// An integer field: read exactly from the literal as written, or refused when out of range. A literal with a
/// fraction or exponent is taken when its value is a whole number in range (`2.0`), as `JSONDecoder` does;
/// `Message.decode` then refuses it in a message field (``HeaderSyntax/Verdict/nonInteger(paths:)``).
protocol HeaderInteger: FixedWidthInteger, HeaderField {
    /// The type's name in error texts.
    static var headerTypeName: String { get }
}

extension HeaderInteger {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        guard case .number(let text) = value else { throw .mismatch(Self.headerTypeName, value, path) }
        guard let v: Self = parseHeaderInteger(text) else {
            throw .dataCorrupted(path: path, description: "Number \(text.prefix(40)) is not representable in \(Self.headerTypeName).")
        }
        self = v
    }

    var headerValue: HeaderValue { .number(String(self)) }
}

/// An integer literal's value in range: exactly for `-?[0-9]+`, or, for a literal with a fraction or exponent, when
/// its value is a whole number in range; nil otherwise.
func parseHeaderInteger<I: FixedWidthInteger>(_ text: String) -> I? {
    if let v: I = exactInteger(text) { return v }
    if text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
       let d = Double(text), d == d.rounded(), let v = I(exactly: d) {
        return v
    }
    return nil
}

/// `-?[0-9]+` in range, else nil.
func exactInteger<I: FixedWidthInteger>(_ text: String) -> I? {
    var utf8 = text.utf8[...]
    let negative = utf8.first == UInt8(ascii: "-")
    if negative { utf8 = utf8.dropFirst() }
    guard !utf8.isEmpty else { return nil }
    if negative && !I.isSigned { return utf8.allSatisfy { $0 == UInt8(ascii: "0") } ? 0 : nil }
    var v: I = 0
    for c in utf8 {
        guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
        let digit = I(c - UInt8(ascii: "0"))
        let (times10, o1) = v.multipliedReportingOverflow(by: 10)
        let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
        guard !o1, !o2 else { return nil }
        v = next
    }
    return v
}

extension Int: HeaderInteger { static var headerTypeName: String { "Int" } }
extension Int32: HeaderInteger { static var headerTypeName: String { "Int32" } }
extension Int64: HeaderInteger { static var headerTypeName: String { "Int64" } }
extension UInt16: HeaderInteger { static var headerTypeName: String { "UInt16" } }
extension UInt32: HeaderInteger { static var headerTypeName: String { "UInt32" } }
extension UInt64: HeaderInteger { static var headerTypeName: String { "UInt64" } }

extension Array: HeaderField where Element: HeaderField {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        guard case .array(let items) = value else { throw .mismatch("Array<HeaderValue>", value, path) }
        var elements: [Element] = []
        elements.reserveCapacity(items.count)
        for (n, item) in items.enumerated() { elements.append(try Element(header: item, at: path + ["Index \(n)"])) }
        self = elements
    }
    var headerValue: HeaderValue { .array(map { $0.headerValue }) }
}

/// A map with string keys (`hello.boot_timings`): an object whose every value is an `Value`.
extension Dictionary: HeaderField where Key == String, Value: HeaderField {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        let object = try HeaderReader(value, at: path)
        var map: [String: Value] = [:]
        for member in object.members { map[member.key] = try Value(header: member.value, at: path + [member.key]) }
        self = map
    }
    var headerValue: HeaderValue { .object(map { HeaderValue.Member(key: $0.key, value: $0.value.headerValue) }) }
}
