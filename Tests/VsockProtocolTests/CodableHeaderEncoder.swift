@testable import VsockProtocol

/// The reference the hand-coded headers (Sources/VsockProtocol/MessageCoding.swift) are held to: a message encoded
/// into canonical header JSON (``HeaderValue/write(into:)``) through the message types' `Codable` conformances,
/// without Foundation. It was the codec's general path; the tests keep it to compare the two.
///
/// Containers write into shared nodes, so a type that encodes a second value into the same encoder (``ExitReport``
/// flattens its status; ``Message`` adds `type`) extends one object; a key written twice keeps the last value.
enum HeaderEncoder {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = Node()
        try value.encode(to: Encoding(node: root, codingPath: []))
        var out: [UInt8] = []
        out.reserveCapacity(128)
        root.value.write(into: &out)
        return out
    }

    /// A value under construction; containers hold it by reference.
    final class Node {
        enum Content {
            case unset
            case scalar(HeaderValue)
            case object([(key: String, node: Node)])
            case array([Node])
        }
        var content: Content = .unset

        /// What an encoder wrote nothing into comes out as an empty object, as with `JSONEncoder`.
        var value: HeaderValue {
            switch content {
            case .unset: .object([])
            case .scalar(let v): v
            case .object(let members): .object(members.map { HeaderValue.Member(key: $0.key, value: $0.node.value) })
            case .array(let elements): .array(elements.map(\.value))
            }
        }

        func child(forKey key: String) -> Node {
            var members: [(key: String, node: Node)]
            if case .object(let existing) = content { members = existing } else { members = [] }
            let node = Node()
            if let at = members.firstIndex(where: { $0.key == key }) { members[at].node = node } else { members.append((key, node)) }
            content = .object(members)
            return node
        }

        func appendChild() -> Node {
            var elements: [Node]
            if case .array(let existing) = content { elements = existing } else { elements = [] }
            let node = Node()
            elements.append(node)
            content = .array(elements)
            return node
        }

        func makeObject() { if case .object = content {} else { content = .object([]) } }
        func makeArray() { if case .array = content {} else { content = .array([]) } }
    }

    static func scalar(_ v: Bool) -> HeaderValue { .bool(v) }
    static func scalar(_ v: String) -> HeaderValue { .string(v) }
    static func scalar<I: FixedWidthInteger>(_ v: I) -> HeaderValue { .number(String(v)) }
    static func scalar<F: BinaryFloatingPoint & LosslessStringConvertible>(_ v: F, _ path: [any CodingKey]) throws -> HeaderValue {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "Unable to encode \(v) directly in JSON."))
        }
        if v == v.rounded(), abs(v) < 1e15 { return .number(String(Int64(v))) }
        return .number(String(v))
    }

    struct Encoding: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            node.makeObject()
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            node.makeArray()
            return Unkeyed(node: node, codingPath: codingPath)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        private func put(_ v: HeaderValue, _ key: Key) { node.child(forKey: key.stringValue).content = .scalar(v) }

        mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
        mutating func encode(_ v: Bool, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: String, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: Double, forKey key: Key) throws { put(try scalar(v, codingPath + [key]), key) }
        mutating func encode(_ v: Float, forKey key: Key) throws { put(try scalar(v, codingPath + [key]), key) }
        mutating func encode(_ v: Int, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: Int8, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: Int16, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: Int32, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: Int64, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: UInt, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: UInt8, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: UInt16, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: UInt32, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode(_ v: UInt64, forKey key: Key) throws { put(scalar(v), key) }
        mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
            try v.encode(to: Encoding(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type,
                                                            forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = node.child(forKey: key.stringValue)
            child.makeObject()
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = node.child(forKey: key.stringValue)
            child.makeArray()
            return Unkeyed(node: child, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> any Encoder {
            Encoding(node: node.child(forKey: "super"), codingPath: codingPath + [IndexKey(stringValue: "super")])
        }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            Encoding(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { if case .array(let e) = node.content { e.count } else { 0 } }

        private func push(_ v: HeaderValue) { node.appendChild().content = .scalar(v) }
        private var nextPath: [any CodingKey] { codingPath + [IndexKey(index: count)] }

        mutating func encodeNil() throws { push(.null) }
        mutating func encode(_ v: Bool) throws { push(scalar(v)) }
        mutating func encode(_ v: String) throws { push(scalar(v)) }
        mutating func encode(_ v: Double) throws { push(try scalar(v, nextPath)) }
        mutating func encode(_ v: Float) throws { push(try scalar(v, nextPath)) }
        mutating func encode(_ v: Int) throws { push(scalar(v)) }
        mutating func encode(_ v: Int8) throws { push(scalar(v)) }
        mutating func encode(_ v: Int16) throws { push(scalar(v)) }
        mutating func encode(_ v: Int32) throws { push(scalar(v)) }
        mutating func encode(_ v: Int64) throws { push(scalar(v)) }
        mutating func encode(_ v: UInt) throws { push(scalar(v)) }
        mutating func encode(_ v: UInt8) throws { push(scalar(v)) }
        mutating func encode(_ v: UInt16) throws { push(scalar(v)) }
        mutating func encode(_ v: UInt32) throws { push(scalar(v)) }
        mutating func encode(_ v: UInt64) throws { push(scalar(v)) }
        mutating func encode<T: Encodable>(_ v: T) throws {
            let path = nextPath
            try v.encode(to: Encoding(node: node.appendChild(), codingPath: path))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let path = nextPath
            let child = node.appendChild()
            child.makeObject()
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: path))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let path = nextPath
            let child = node.appendChild()
            child.makeArray()
            return Unkeyed(node: child, codingPath: path)
        }
        mutating func superEncoder() -> any Encoder {
            let path = nextPath
            return Encoding(node: node.appendChild(), codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.content = .scalar(.null) }
        mutating func encode(_ v: Bool) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: String) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: Double) throws { node.content = .scalar(try scalar(v, codingPath)) }
        mutating func encode(_ v: Float) throws { node.content = .scalar(try scalar(v, codingPath)) }
        mutating func encode(_ v: Int) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: Int8) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: Int16) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: Int32) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: Int64) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: UInt) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: UInt8) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: UInt16) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: UInt32) throws { node.content = .scalar(scalar(v)) }
        mutating func encode(_ v: UInt64) throws { node.content = .scalar(scalar(v)) }
        mutating func encode<T: Encodable>(_ v: T) throws { try v.encode(to: Encoding(node: node, codingPath: codingPath)) }
    }
}

/// A coding key for array positions and `super`, in error paths.
struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init?(intValue: Int) { self.init(index: intValue) }
    init(index: Int) { stringValue = "Index \(index)"; intValue = index }
}
