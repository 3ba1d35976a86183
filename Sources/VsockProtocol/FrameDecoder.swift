/// What the decoder found next in the byte stream.
public enum DecodedFrame: Sendable, Equatable {
    /// A complete, well-formed frame.
    case frame(Frame)
    /// A complete frame whose header could not be parsed. Framing is intact: answer with an `error` frame
    /// (``ProtocolError/errorMessage``) and keep reading.
    case invalid(ProtocolError)
    /// A frame declared lengths over the limits. Nothing was allocated for it; its bytes are being skipped
    /// as they arrive. Answer with an `error` frame (`frame_too_large`) and keep reading.
    case oversized(ProtocolError)
}

/// An incremental frame decoder. Feed it bytes in any split (one byte at a time works) and pull frames.
///
/// Lengths are checked against the limits as soon as the 8-byte prefix is complete, before any buffer is
/// reserved for the frame; an oversized frame is reported once and then skipped without being stored.
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Bytes of an oversized frame still to be discarded.
    private var skipRemaining: UInt64 = 0

    public init(limits: FrameLimits = .default) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as (part of) a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes
        if skipRemaining > 0 {
            let skip = Int(min(UInt64(bytes.count), skipRemaining))
            skipRemaining -= UInt64(skip)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[skip...])
        }
        guard !bytes.isEmpty else { return }
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { append($0) }
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() -> DecodedFrame? {
        let available = buffer.count - readIndex
        guard available >= ProtocolConstants.prefixBytes else { return nil }
        let headerLength = readBigEndian(at: readIndex)
        let payloadLength = readBigEndian(at: readIndex + 4)
        if headerLength > limits.maxHeaderBytes || payloadLength > limits.maxPayloadBytes {
            let total = UInt64(ProtocolConstants.prefixBytes) + UInt64(headerLength) + UInt64(payloadLength)
            let inBuffer = UInt64(available)
            let dropNow = Int(min(total, inBuffer))
            readIndex += dropNow
            skipRemaining = total - UInt64(dropNow)
            compactIfWorthwhile()
            let what = "frame declares header \(headerLength) B / payload \(payloadLength) B; limits are \(limits.maxHeaderBytes) B / \(limits.maxPayloadBytes) B"
            return .oversized(ProtocolError(.frameTooLarge, what))
        }
        let total = ProtocolConstants.prefixBytes + Int(headerLength) + Int(payloadLength)
        guard available >= total else {
            buffer.reserveCapacity(readIndex + total)
            return nil
        }
        let headerStart = readIndex + ProtocolConstants.prefixBytes
        let payloadStart = headerStart + Int(headerLength)
        let end = readIndex + total
        readIndex = end
        let result: DecodedFrame
        do {
            let message = try Message.decode(header: buffer[headerStart..<payloadStart])
            if payloadLength > 0 && !message.carriesPayload {
                result = .invalid(ProtocolError(.invalidMessage, "\"\(message.type)\" frames carry no payload",
                                                session: message.session))
            } else {
                result = .frame(Frame(message, payload: Array(buffer[payloadStart..<end])))
            }
        } catch {
            result = .invalid(error)
        }
        if readIndex == buffer.count { buffer.removeAll(keepingCapacity: buffer.capacity <= 4 << 20); readIndex = 0 }
        return result
    }

    private func readBigEndian(at index: Int) -> UInt32 {
        UInt32(buffer[index]) << 24 | UInt32(buffer[index + 1]) << 16 | UInt32(buffer[index + 2]) << 8
            | UInt32(buffer[index + 3])
    }

    /// Drops consumed bytes once they are at least half the buffer, keeping appends amortised O(1).
    private mutating func compactIfWorthwhile() {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
