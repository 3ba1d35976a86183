/// The sending side of one credit window: how many stdio payload bytes we may still send the peer on one
/// session and direction. Starts at the peer's announced `window`; grows by each `window` frame it sends.
public struct SendWindow: Sendable, Equatable {
    /// Bytes we may send now.
    public private(set) var available: UInt64
    /// Credit above this is a protocol violation by the granting peer (it would let us buffer without bound).
    public static let maxCredit: UInt64 = 1 << 32

    public init(initial: UInt32) { available = UInt64(initial) }

    /// Takes up to `wanted` bytes of credit and returns how many were taken (possibly 0).
    public mutating func take(upTo wanted: Int) -> Int {
        let n = Int(min(UInt64(max(wanted, 0)), available))
        available -= UInt64(n)
        return n
    }

    /// Applies a `window` frame from the peer.
    public mutating func grant(_ bytes: UInt32, session: SessionID) throws(ProtocolError) {
        let next = available + UInt64(bytes)
        guard next <= Self.maxCredit else {
            throw ProtocolError(.flowControl, "window grant would exceed 4 GiB of credit", session: session)
        }
        available = next
    }
}

/// The receiving side of one credit window: checks the peer stays within the credit we gave it, and decides
/// when to give more. We re-grant only what our consumer has actually taken, so at most `window` bytes of
/// one session/direction are ever buffered on our side, whatever the peer does.
public struct ReceiveWindow: Sendable, Equatable {
    /// The credit announced in our `hello`.
    public let window: UInt32
    /// Bytes the peer may still send before it must wait for a grant.
    public private(set) var outstanding: UInt64
    /// Bytes delivered to our consumer since our last grant.
    public private(set) var consumedSinceGrant: UInt64 = 0

    public init(window: UInt32) {
        self.window = window
        self.outstanding = UInt64(window)
    }

    /// Records `count` payload bytes received from the peer. Throws `flow_control_violation` (the caller
    /// drops the bytes) if that is more than the peer was allowed.
    public mutating func receive(_ count: Int, session: SessionID) throws(ProtocolError) {
        guard UInt64(count) <= outstanding else {
            throw ProtocolError(.flowControl,
                                "sent \(count) B with only \(outstanding) B of credit", session: session)
        }
        outstanding -= UInt64(count)
    }

    /// Records that our consumer took `count` bytes. Returns the credit to grant in a `window` frame when
    /// at least half the window has been consumed (batching grants), else nil.
    public mutating func consume(_ count: Int) -> UInt32? {
        consumedSinceGrant += UInt64(max(count, 0))
        guard consumedSinceGrant >= UInt64(window) / 2, consumedSinceGrant > 0 else { return nil }
        let grant = UInt32(min(consumedSinceGrant, UInt64(UInt32.max)))
        consumedSinceGrant -= UInt64(grant)
        outstanding += UInt64(grant)
        return grant
    }
}
