#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An IPv6 prefix such as `fd00:1::/64`, parsed without any system call.
public struct IPv6Prefix: Sendable, Equatable, CustomStringConvertible {
    /// The network address (host bits zero), 16 bytes in network order.
    public let network: [UInt8]
    /// The prefix length in bits.
    public let length: Int

    /// Parses `ADDRESS/LENGTH`. The length must leave at least 8 host bits (so random addresses do not collide
    /// at once) and at least 8 network bits. Host bits set in the address are an error, not silently dropped.
    public init(_ text: String) throws(AllocatorError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let len = Int(parts[1]), (8...120).contains(len) else {
            throw AllocatorError.invalidPrefix("\(text.prefix(80)): expected ADDRESS/LENGTH with LENGTH in 8...120")
        }
        guard let bytes = IPv6Address.parse(String(parts[0])) else {
            throw AllocatorError.invalidPrefix("\(text.prefix(80)): not an IPv6 address")
        }
        for bit in len..<128 where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
            throw AllocatorError.invalidPrefix("\(text.prefix(80)): host bits are set")
        }
        network = bytes
        length = len
    }

    /// Whether `address` (16 bytes) lies inside this prefix.
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == 16 else { return false }
        for bit in 0..<length {
            let mask: UInt8 = 0x80 >> UInt8(bit % 8)
            if address[bit / 8] & mask != network[bit / 8] & mask { return false }
        }
        return true
    }

    /// A random address in the prefix, avoiding the all-zero host part (the subnet-router anycast address)
    /// and host part 1 (conventionally the gateway).
    public func randomAddress<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        while true {
            var out = network
            for bit in length..<128 where Bool.random(using: &generator) {
                out[bit / 8] |= 0x80 >> UInt8(bit % 8)
            }
            var host = out
            for bit in 0..<length { host[bit / 8] &= ~(0x80 >> UInt8(bit % 8)) }
            let isZero = host.allSatisfy { $0 == 0 }
            let isOne = host[0..<15].allSatisfy { $0 == 0 } && host[15] == 1
            if !isZero && !isOne { return out }
        }
    }

    public var description: String { "\(IPv6Address.format(network))/\(length)" }
}

/// Text form of IPv6 addresses: parsing (RFC 4291 §2.2, without embedded IPv4) and the canonical RFC 5952 format.
public enum IPv6Address {
    /// 16 bytes, or nil when `text` is not an IPv6 address.
    public static func parse(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.count <= 45 else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(g.count), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all: [UInt16]
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            all = head
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// The RFC 5952 form: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`.
    public static func format(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return "<invalid>" }
        let g = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = g.map { String($0, radix: 16) }
        if bestLen < 2 { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLen)...].joined(separator: ":")
        return left + "::" + right
    }
}
