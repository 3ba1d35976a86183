@testable import VsockProtocol

/// The reference the hand-coded headers are held to: a parsed header (``HeaderValue``) decoded through the message
/// types' `Codable` conformances, without Foundation, with `DecodingError`s shaped as `JSONDecoder`'s. It was the
/// codec's general path; the tests keep it to compare the two.
///
/// Integers are read from the literal as written: exactly, or refused when out of the field's range. A literal
/// with a fraction or exponent is taken when its value is a whole number in range (`2.0`), as `JSONDecoder` does;
/// `Message.decode` then refuses it in a message field (``HeaderSyntax/Verdict/nonInteger(paths:)``).
enum HeaderDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from value: HeaderValue) throws -> T {
        try T(from: Decoding(value: value, codingPath: []))
    }

    struct Decoding: Decoder {
        let value: HeaderValue
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard case .object(let members) = value else {
                throw mismatch([String: HeaderValue].self, value, codingPath)
            }
            return KeyedDecodingContainer(Keyed<Key>(members: members, codingPath: codingPath))
        }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard case .array(let elements) = value else { throw mismatch([HeaderValue].self, value, codingPath) }
            return Unkeyed(elements: elements, codingPath: codingPath)
        }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value, codingPath: codingPath) }
    }

    // MARK: Scalars

    static func mismatch(_ type: Any.Type, _ value: HeaderValue, _ path: [any CodingKey]) -> DecodingError {
        if value == .null {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Cannot get \(type) -- found null value instead"))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(value.kindDescription) instead."))
    }

    static func bool(_ value: HeaderValue, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let v) = value else { throw mismatch(Bool.self, value, path) }
        return v
    }

    static func string(_ value: HeaderValue, _ path: [any CodingKey]) throws -> String {
        guard case .string(let v) = value else { throw mismatch(String.self, value, path) }
        return v
    }

    static func integer<I: FixedWidthInteger>(_ type: I.Type, _ value: HeaderValue, _ path: [any CodingKey]) throws -> I {
        guard case .number(let text) = value else { throw mismatch(I.self, value, path) }
        if let v: I = parseHeaderInteger(text) { return v }
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Number \(text.prefix(40)) is not representable in \(I.self)."))
    }

    static func floating<F: BinaryFloatingPoint & LosslessStringConvertible>(_ type: F.Type, _ value: HeaderValue,
                                                                            _ path: [any CodingKey]) throws -> F {
        guard case .number(let text) = value else { throw mismatch(F.self, value, path) }
        guard let v = F(text), v.isFinite else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Number \(text.prefix(40)) is not representable in \(F.self)."))
        }
        return v
    }

    // MARK: Containers

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [HeaderValue.Member]
        let codingPath: [any CodingKey]

        var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }
        func contains(_ key: Key) -> Bool { members.contains { $0.key == key.stringValue } }

        private func value(_ key: Key) throws -> HeaderValue {
            guard let member = members.first(where: { $0.key == key.stringValue }) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                           debugDescription: "No value associated with key \(key.stringValue)."))
            }
            return member.value
        }
        private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

        func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }
        func decode(_ t: Bool.Type, forKey key: Key) throws -> Bool { try bool(value(key), path(key)) }
        func decode(_ t: String.Type, forKey key: Key) throws -> String { try string(value(key), path(key)) }
        func decode(_ t: Double.Type, forKey key: Key) throws -> Double { try floating(t, value(key), path(key)) }
        func decode(_ t: Float.Type, forKey key: Key) throws -> Float { try floating(t, value(key), path(key)) }
        func decode(_ t: Int.Type, forKey key: Key) throws -> Int { try integer(t, value(key), path(key)) }
        func decode(_ t: Int8.Type, forKey key: Key) throws -> Int8 { try integer(t, value(key), path(key)) }
        func decode(_ t: Int16.Type, forKey key: Key) throws -> Int16 { try integer(t, value(key), path(key)) }
        func decode(_ t: Int32.Type, forKey key: Key) throws -> Int32 { try integer(t, value(key), path(key)) }
        func decode(_ t: Int64.Type, forKey key: Key) throws -> Int64 { try integer(t, value(key), path(key)) }
        func decode(_ t: UInt.Type, forKey key: Key) throws -> UInt { try integer(t, value(key), path(key)) }
        func decode(_ t: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(t, value(key), path(key)) }
        func decode(_ t: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(t, value(key), path(key)) }
        func decode(_ t: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(t, value(key), path(key)) }
        func decode(_ t: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(t, value(key), path(key)) }
        func decode<T: Decodable>(_ t: T.Type, forKey key: Key) throws -> T {
            try T(from: Decoding(value: value(key), codingPath: path(key)))
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type,
                                                   forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try Decoding(value: value(key), codingPath: path(key)).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try Decoding(value: value(key), codingPath: path(key)).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder {
            let key = IndexKey(stringValue: "super")
            return Decoding(value: members.first { $0.key == "super" }?.value ?? .null, codingPath: codingPath + [key])
        }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            Decoding(value: members.first { $0.key == key.stringValue }?.value ?? .null, codingPath: path(key))
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [HeaderValue]
        let codingPath: [any CodingKey]
        private(set) var currentIndex = 0

        init(elements: [HeaderValue], codingPath: [any CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }

        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        private var path: [any CodingKey] { codingPath + [IndexKey(index: currentIndex)] }
        private mutating func next(_ type: Any.Type) throws -> HeaderValue {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
            }
            defer { currentIndex += 1 }
            return elements[currentIndex]
        }
        private mutating func scalar<T>(_ type: T.Type, _ convert: (HeaderValue, [any CodingKey]) throws -> T) throws -> T {
            let at = path
            return try convert(try next(type), at)
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, elements[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode(_ t: Bool.Type) throws -> Bool { try scalar(t, HeaderDecoder.bool) }
        mutating func decode(_ t: String.Type) throws -> String { try scalar(t, HeaderDecoder.string) }
        mutating func decode(_ t: Double.Type) throws -> Double { try scalar(t) { try floating(t, $0, $1) } }
        mutating func decode(_ t: Float.Type) throws -> Float { try scalar(t) { try floating(t, $0, $1) } }
        mutating func decode(_ t: Int.Type) throws -> Int { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: Int8.Type) throws -> Int8 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: Int16.Type) throws -> Int16 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: Int32.Type) throws -> Int32 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: Int64.Type) throws -> Int64 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: UInt.Type) throws -> UInt { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try scalar(t) { try integer(t, $0, $1) } }
        mutating func decode<T: Decodable>(_ t: T.Type) throws -> T {
            let at = path
            return try T(from: Decoding(value: try next(t), codingPath: at))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let at = path
            return try Decoding(value: try next([String: HeaderValue].self), codingPath: at).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let at = path
            return try Decoding(value: try next([HeaderValue].self), codingPath: at).unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder {
            let at = path
            return Decoding(value: try next(HeaderValue.self), codingPath: at)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let value: HeaderValue
        let codingPath: [any CodingKey]

        func decodeNil() -> Bool { value == .null }
        func decode(_ t: Bool.Type) throws -> Bool { try bool(value, codingPath) }
        func decode(_ t: String.Type) throws -> String { try string(value, codingPath) }
        func decode(_ t: Double.Type) throws -> Double { try floating(t, value, codingPath) }
        func decode(_ t: Float.Type) throws -> Float { try floating(t, value, codingPath) }
        func decode(_ t: Int.Type) throws -> Int { try integer(t, value, codingPath) }
        func decode(_ t: Int8.Type) throws -> Int8 { try integer(t, value, codingPath) }
        func decode(_ t: Int16.Type) throws -> Int16 { try integer(t, value, codingPath) }
        func decode(_ t: Int32.Type) throws -> Int32 { try integer(t, value, codingPath) }
        func decode(_ t: Int64.Type) throws -> Int64 { try integer(t, value, codingPath) }
        func decode(_ t: UInt.Type) throws -> UInt { try integer(t, value, codingPath) }
        func decode(_ t: UInt8.Type) throws -> UInt8 { try integer(t, value, codingPath) }
        func decode(_ t: UInt16.Type) throws -> UInt16 { try integer(t, value, codingPath) }
        func decode(_ t: UInt32.Type) throws -> UInt32 { try integer(t, value, codingPath) }
        func decode(_ t: UInt64.Type) throws -> UInt64 { try integer(t, value, codingPath) }
        func decode<T: Decodable>(_ t: T.Type) throws -> T { try T(from: Decoding(value: value, codingPath: codingPath)) }
    }
}
