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
///
/// Copies: small frames are buffered and their payload copied out once. A large payload (at least
/// ``directPayloadThreshold``) at the front of the stream is collected straight into its own array as the bytes
/// arrive, and that array becomes ``Frame/payload`` as it is: one copy in all, from the read buffer, or none
/// when the reader uses ``receive(spare:_:)``, which lets `readv(2)` write the payload into that array (then
/// only the few bytes that arrive with the frame's head, at most ``lookaheadBytes``, are copied).
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits
    /// Prefixes, headers and small payloads, from `readIndex` on (consumed bytes are dropped in bulk).
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// The payload of the frame at `readIndex`, while it is collected outside `buffer` (the frame's prefix
    /// and header stay in `buffer`; bytes after the payload go on into `buffer`). It is allocated at its full
    /// length up front; only the first `directFilled` bytes hold received data.
    private var direct: [UInt8]?
    private var directLength = 0
    private var directFilled = 0
    /// Bytes of an oversized frame still to be discarded.
    private var skipRemaining: UInt64 = 0

    /// Payloads at least this large are collected into their own array instead of the shared buffer.
    public static let directPayloadThreshold = 16 * 1024
    /// How much of the spare buffer ``receive(spare:_:)`` offers past a large payload, and at a frame boundary
    /// right after one: enough for the next frame's prefix and a stdio header, so a stream of large frames has
    /// each payload read where it stays and at most this many of its bytes copied.
    public static let lookaheadBytes = 1024
    /// The last frame returned had its payload collected on its own: the next one is likely large too.
    private var lastPayloadWasDirect = false

    public init(limits: FrameLimits = .default) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as (part of) a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex + (direct == nil ? 0 : directFilled) }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        startDirectPayloadIfLarge()
        while !rest.isEmpty {
            if skipRemaining > 0 {
                let skip = Int(min(UInt64(rest.count), skipRemaining))
                skipRemaining -= UInt64(skip)
                rest = UnsafeRawBufferPointer(rebasing: rest[skip...])
                continue
            }
            if direct != nil, directFilled < directLength {
                let n = min(rest.count, directLength - directFilled)
                fillDirect { space in
                    space.copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<n]))
                    return n
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                continue
            }
            guard direct == nil, let take = bytesToCompleteFrontHead(rest.count) else {
                compactIfWorthwhile()
                buffer.append(contentsOf: rest)
                return
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            startDirectPayloadIfLarge()
        }
    }

    /// While the front frame may turn out to have a large payload: how many of the next `available` bytes complete
    /// its prefix or header, so the payload after them can go to its own array. Nil: no decision is pending, all
    /// bytes go to the buffer.
    private func bytesToCompleteFrontHead(_ count: Int) -> Int? {
        let buffered = buffer.count - readIndex
        if buffered < ProtocolConstants.prefixBytes { return min(count, ProtocolConstants.prefixBytes - buffered) }
        let headerLength = readBigEndian(at: readIndex)
        let payloadLength = readBigEndian(at: readIndex + 4)
        guard headerLength <= limits.maxHeaderBytes, payloadLength <= limits.maxPayloadBytes,
              Int(payloadLength) >= Self.directPayloadThreshold else { return nil }
        let headEnd = ProtocolConstants.prefixBytes + Int(headerLength)
        return buffered < headEnd ? min(count, headEnd - buffered) : nil
    }

    /// Once the front frame's prefix and header are buffered and its payload is large and incomplete, moves the
    /// payload bytes buffered so far into their own array; the rest of the payload goes there directly.
    private mutating func startDirectPayloadIfLarge() {
        guard direct == nil else { return }
        let available = buffer.count - readIndex
        guard available >= ProtocolConstants.prefixBytes else { return }
        let headerLength = readBigEndian(at: readIndex)
        let payloadLength = Int(readBigEndian(at: readIndex + 4))
        let payloadStart = readIndex + ProtocolConstants.prefixBytes + Int(headerLength)
        guard headerLength <= limits.maxHeaderBytes, payloadLength <= Int(limits.maxPayloadBytes),
              payloadLength >= Self.directPayloadThreshold, buffer.count >= payloadStart,
              buffer.count - payloadStart < payloadLength else { return }
        let have = buffer.count - payloadStart
        // Full length at once, filled as bytes arrive (UInt8 needs no initialisation; only filled bytes are read).
        direct = [UInt8](unsafeUninitializedCapacity: payloadLength) { space, count in
            buffer.withUnsafeBytes { UnsafeMutableRawBufferPointer(space).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
            count = payloadLength
        }
        buffer.removeSubrange(payloadStart...)
        directLength = payloadLength
        directFilled = have
    }

    /// Lets `body` write into the unfilled rest of the payload being collected; it returns how many bytes it
    /// wrote there (from the front of the space it was given).
    @discardableResult
    private mutating func fillDirect<E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int) throws(E) -> Int {
        guard var payload = direct else { return 0 }
        direct = nil  // keeps `payload` uniquely referenced while it is written (no copy-on-write)
        let filled = directFilled
        var outcome: Result<Int, E> = .success(0)
        payload.withUnsafeMutableBytes { raw in
            let space = UnsafeMutableRawBufferPointer(rebasing: raw[filled...])
            do throws(E) { outcome = .success(min(max(try body(space), 0), space.count)) } catch { outcome = .failure(error) }
        }
        direct = payload
        let n = try outcome.get()
        directFilled += n
        return n
    }

    /// Receives bytes with one read that puts a large payload where it will stay. `fill` is offered, in order,
    /// the unfilled rest of the front frame's large payload (when one is being collected) and then `spare`, or
    /// only its first ``lookaheadBytes`` while large frames are arriving; it
    /// fills them front to back (one `readv(2)`) and returns the count, or nil when nothing was read (which is
    /// returned as it is, like 0 for end of file). Bytes past the payload, in `spare`, are appended as by
    /// ``append(_:)-(UnsafeRawBufferPointer)``.
    public mutating func receive<E: Error>(spare: UnsafeMutableRawBufferPointer,
                                           _ fill: ([UnsafeMutableRawBufferPointer]) throws(E) -> Int?) throws(E) -> Int? {
        startDirectPayloadIfLarge()
        guard direct != nil, directFilled < directLength else {
            // At a frame boundary in a run of large frames, read just the next head: its payload then goes
            // straight into its own array by the next read, instead of through `spare` and a copy.
            let atBoundary = buffer.count == readIndex && skipRemaining == 0
            let offered = lastPayloadWasDirect && atBoundary ? Self.lookahead(spare) : spare
            guard let n = try fill([offered]) else { return nil }
            append(UnsafeRawBufferPointer(rebasing: spare[..<min(max(n, 0), spare.count)]))
            return n
        }
        var total: Int?
        var spilled = 0
        try fillDirect { (space) throws(E) -> Int in
            guard let n = try fill([space, Self.lookahead(spare)]) else { return 0 }
            total = n
            spilled = max(0, n - space.count)
            return n
        }
        if spilled > 0 { append(UnsafeRawBufferPointer(rebasing: spare[..<min(spilled, spare.count)])) }
        return total
    }

    private static func lookahead(_ spare: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: spare[..<min(spare.count, Self.lookaheadBytes)])
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
        let headerStart = readIndex + ProtocolConstants.prefixBytes
        let payloadStart = headerStart + Int(headerLength)
        let payload: [UInt8]
        if let direct {
            guard directFilled == directLength else { return nil }
            self.direct = nil
            directFilled = 0
            payload = direct
            readIndex = payloadStart
            lastPayloadWasDirect = true
        } else {
            let total = ProtocolConstants.prefixBytes + Int(headerLength) + Int(payloadLength)
            guard available >= total else {
                // A large payload will be collected on its own; reserve only what the buffer will hold.
                let held = Int(payloadLength) >= Self.directPayloadThreshold ? total - Int(payloadLength) : total
                buffer.reserveCapacity(readIndex + held)
                return nil
            }
            let end = readIndex + total
            payload = payloadLength == 0 ? [] : Array(buffer[payloadStart..<end])
            lastPayloadWasDirect = false
            readIndex = end
        }
        let result: DecodedFrame
        do {
            let message = try Message.decode(header: buffer[headerStart..<payloadStart])
            if payloadLength > 0 && !message.carriesPayload {
                result = .invalid(ProtocolError(.invalidMessage, "\"\(message.type)\" frames carry no payload",
                                                session: message.session))
            } else {
                result = .frame(Frame(message, payload: payload))
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
