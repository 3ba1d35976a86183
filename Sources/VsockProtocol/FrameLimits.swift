/// Hard size limits for one frame, checked before anything is allocated.
///
/// Both peers announce their limits in `hello`; each side must never send a frame larger than the
/// *peer's* announced limits, and rejects (without allocating) any frame larger than its own.
public struct FrameLimits: Sendable, Equatable {
    /// Largest accepted JSON header, in bytes.
    public var maxHeaderBytes: UInt32
    /// Largest accepted binary payload, in bytes.
    public var maxPayloadBytes: UInt32

    /// 64 KiB headers, 1 MiB payloads.
    public static let `default` = FrameLimits(maxHeaderBytes: 64 * 1024, maxPayloadBytes: 1024 * 1024)
    /// No implementation may announce more than this (16 MiB header, 16 MiB payload).
    public static let ceiling = FrameLimits(maxHeaderBytes: 16 << 20, maxPayloadBytes: 16 << 20)

    public init(maxHeaderBytes: UInt32, maxPayloadBytes: UInt32) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// The largest payload to put in one frame for a peer that announced these limits: within the ceiling, and
    /// at least one byte, so a peer announcing 0 still gets its bytes, slowly.
    public var payloadPerFrame: Int { max(1, Int(clamped(to: .ceiling).maxPayloadBytes)) }

    /// The smaller of two limit sets, each field independently.
    public func clamped(to other: FrameLimits) -> FrameLimits {
        FrameLimits(maxHeaderBytes: min(maxHeaderBytes, other.maxHeaderBytes),
                    maxPayloadBytes: min(maxPayloadBytes, other.maxPayloadBytes))
    }
}

/// Wire constants.
public enum ProtocolConstants {
    /// The protocol version this module speaks. Bumped only for incompatible changes.
    public static let version: Int = 1
    /// Bytes before the header: two big-endian UInt32 lengths (header, payload).
    public static let prefixBytes = 8
    /// Default vsock port vm-init listens on.
    public static let defaultVsockPort: UInt32 = 1024
    /// Default per-session credit (bytes) for each direction of stdio.
    public static let defaultWindow: UInt32 = 1 << 20
    /// The credit the reference receivers of bulk stdio announce: the supervisor and the exec client for output,
    /// vm-init for stdin. Four of the largest frames (1 MiB: spliced output, stdin read from a grown pipe),
    /// granted back two at a time, so a busy stream never waits a round trip for credit. In the QEMU guest of
    /// BENCHMARKS.md §8: with a 2 MiB output window half of the frames of `exec dd` waited for a grant; with
    /// a 1 MiB stdin window, 1 MiB stdin frames went one at a time (253 MiB/s; 4 MiB: 371, 8 MiB: 298).
    public static let streamWindow: UInt32 = 4 << 20
}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension FrameLimits: Codable {
    enum CodingKeys: String, CodingKey {
        case maxHeaderBytes = "max_header"
        case maxPayloadBytes = "max_payload"
    }
}
#endif
