import CLibcrypto

/// A content digest, `sha256:<64 lowercase hex>`: the only algorithm registries use for OCI content.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The 64 hex digits.
    public let hex: String

    public init(hex: String) throws(ImageError) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw ImageError(.invalidReference, "invalid sha256 digest \(hex.prefix(80))")
        }
        self.hex = hex
    }

    /// 64 lowercase hex digits by construction (a hash's output).
    init(trustedHex: String) { hex = trustedHex }

    /// Parses `sha256:<hex>`; other algorithms are refused by name.
    public init(parsing text: String) throws(ImageError) {
        guard text.hasPrefix("sha256:") else {
            throw ImageError(.unsupported, "unsupported digest \(text.prefix(80)): only sha256 is supported")
        }
        try self.init(hex: String(text.dropFirst(7)))
    }

    public var description: String { "sha256:" + hex }
    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try Digest(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Streaming SHA-256 over libcrypto (OpenSSL's assembly, SHA-NI where the CPU has it): every byte of every
/// blob is hashed twice (compressed and, for layers, uncompressed), so the hash runs at disk speed rather than
/// the ~100 MB/s of the pure-Swift hash OCIRuntime uses for small metadata streams.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        // EVP_MD_CTX_new fails only when malloc does.
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest of everything so far (the hasher is finished afterwards).
    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in out { hex.append(digits[Int(byte >> 4)]); hex.append(digits[Int(byte & 15)]) }
        return Digest(trustedHex: String(decoding: hex, as: UTF8.self))
    }

    public static func digest(_ bytes: [UInt8]) -> Digest {
        let hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finish()
    }
}
