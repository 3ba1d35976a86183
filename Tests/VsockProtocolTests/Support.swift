import Foundation
import TestSupport
import Testing
@testable import VsockProtocol

/// Swift Testing also declares an `ExitStatus` (for exit tests); in this module the name means the protocol's.
typealias ExitStatus = VsockProtocol.ExitStatus

/// SplitMix64: a tiny, fast, deterministic PRNG so random tests are reproducible from their seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform value in 0..<bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next(upperBound: UInt64(bound))) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return s
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// Any JSON value, preserving 64-bit integers exactly (for golden-vector headers and the schema).
indirect enum JSONValue: Codable, Equatable {
    case null, bool(Bool), int(Int64), uint(UInt64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int64.self) { self = .int(v) }
        else if let v = try? c.decode(UInt64.self) { self = .uint(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .uint(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// Canonical bytes: sorted keys, no whitespace (the same rules as the protocol's encoder).
    func jsonBytes() throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(self))
    }
}

/// Files in the repository (TestSupport's ``RepoPath``; tests have no bundle resources).
enum RepoFiles {
    static func read(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: RepoPath.file(relative)))
    }
}

/// Feeds `bytes` to a decoder in chunks whose sizes come from `chunkSize`, pulling every result after each chunk.
func decodeAll(_ bytes: [UInt8], limits: FrameLimits = .default, chunkSize: (inout SplitMix64) -> Int,
               rng: inout SplitMix64) -> (results: [DecodedFrame], decoder: FrameDecoder) {
    var decoder = FrameDecoder(limits: limits)
    var results: [DecodedFrame] = []
    var i = 0
    while i < bytes.count {
        let n = min(max(chunkSize(&rng), 1), bytes.count - i)
        decoder.append(bytes[i..<(i + n)])
        i += n
        while let r = decoder.next() { results.append(r) }
    }
    while let r = decoder.next() { results.append(r) }
    return (results, decoder)
}

/// Decodes a complete byte string in one go.
func decodeAll(_ bytes: [UInt8], limits: FrameLimits = .default) -> (results: [DecodedFrame], decoder: FrameDecoder) {
    var decoder = FrameDecoder(limits: limits)
    decoder.append(bytes)
    var results: [DecodedFrame] = []
    while let r = decoder.next() { results.append(r) }
    return (results, decoder)
}

extension DecodedFrame {
    var frame: Frame? { if case .frame(let f) = self { f } else { nil } }
    var error: ProtocolError? {
        switch self {
        case .frame: nil
        case .invalid(let e), .oversized(let e): e
        }
    }
    var isOversized: Bool { if case .oversized = self { true } else { false } }
    var isInvalid: Bool { if case .invalid = self { true } else { false } }
}
