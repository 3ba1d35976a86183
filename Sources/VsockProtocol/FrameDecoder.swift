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
/// Frames are decoded as soon as their last byte arrives and queued for ``next()``, so the buffer only ever
/// holds the one frame still arriving. Copies: a small frame is buffered and its payload copied out once. A
/// large payload (at least ``directPayloadThreshold``) is collected straight into its own array as the bytes
/// arrive, and that array becomes ``Frame/payload`` as it is: one copy in all, from the read buffer, even when
/// one read holds several large frames, or none when the reader uses ``receive(spare:_:)``, which lets
/// `readv(2)` write the payload into that array.
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits
    /// The prefix, header and (small) payload received so far of the frame still arriving.
    private var buffer: [UInt8] = []
    /// That frame's large payload, while it is collected outside `buffer` (its prefix and header stay in
    /// `buffer`). It is allocated at its full length up front; only the first `directFilled` bytes hold data.
    private var direct: [UInt8]?
    private var directFilled = 0
    /// Bytes of an oversized frame still to be discarded.
    private var skipRemaining: UInt64 = 0
    /// Frames complete and decoded but not yet returned by ``next()`` (from `readyHead` on), with their sizes
    /// on the wire.
    private var ready: [(frame: DecodedFrame, wireBytes: Int)] = []
    private var readyHead = 0
    private var readyBytes = 0

    /// Payloads at least this large are collected into their own array instead of the shared buffer.
    public static let directPayloadThreshold = 16 * 1024

    public init(limits: FrameLimits = .default) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as (part of) a frame.
    public var bufferedByteCount: Int { readyBytes + buffer.count + directFilled }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            let n = take(rest)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Takes the front of `bytes` (at least one byte) into the frame still arriving; returns how many.
    private mutating func take(_ bytes: UnsafeRawBufferPointer) -> Int {
        if skipRemaining > 0 {
            let n = Int(min(UInt64(bytes.count), skipRemaining))
            skipRemaining -= UInt64(n)
            return n
        }
        if direct != nil {
            let n = fillDirect { space in
                let n = min(bytes.count, space.count)
                space.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<n]))
                return n
            }
            completeIfWhole()
            return n
        }
        let prefix = ProtocolConstants.prefixBytes
        if buffer.count < prefix { return buffer(bytes, upTo: prefix) }
        let headerLength = readBigEndian(at: 0)
        let payloadLength = readBigEndian(at: 4)
        let headEnd = prefix + Int(headerLength)
        if Int(payloadLength) >= Self.directPayloadThreshold {
            let n = buffer(bytes, upTo: headEnd)
            startDirectIfHeadIsComplete(payloadLength: Int(payloadLength))
            return n
        }
        let n = buffer(bytes, upTo: headEnd + Int(payloadLength))
        completeIfWhole()
        return n
    }

    /// Appends to `buffer` as much of `bytes` as brings it to `length`; returns how many.
    private mutating func buffer(_ bytes: UnsafeRawBufferPointer, upTo length: Int) -> Int {
        let n = min(bytes.count, length - buffer.count)
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<n]))
        if buffer.count == ProtocolConstants.prefixBytes { checkPrefix() }
        return n
    }

    /// The prefix just completed: an oversized frame is reported and skipped from here; a frame with no
    /// header or payload bytes (malformed, but complete) is decoded now.
    private mutating func checkPrefix() {
        let headerLength = readBigEndian(at: 0)
        let payloadLength = readBigEndian(at: 4)
        guard headerLength <= limits.maxHeaderBytes, payloadLength <= limits.maxPayloadBytes else {
            let what = "frame declares header \(headerLength) B / payload \(payloadLength) B; limits are \(limits.maxHeaderBytes) B / \(limits.maxPayloadBytes) B"
            skipRemaining = UInt64(headerLength) + UInt64(payloadLength)
            buffer.removeAll(keepingCapacity: true)
            enqueue(.oversized(ProtocolError(.frameTooLarge, what)), wireBytes: ProtocolConstants.prefixBytes)
            return
        }
        if Int(payloadLength) >= Self.directPayloadThreshold {
            startDirectIfHeadIsComplete(payloadLength: Int(payloadLength))
        } else {
            completeIfWhole()
        }
    }

    /// Once the prefix and header of a frame with a large payload are buffered, allocates that payload's array.
    private mutating func startDirectIfHeadIsComplete(payloadLength: Int) {
        guard direct == nil, buffer.count == ProtocolConstants.prefixBytes + Int(readBigEndian(at: 0)) else { return }
        // Full length at once, filled as bytes arrive (UInt8 needs no initialisation; only filled bytes are read).
        direct = [UInt8](unsafeUninitializedCapacity: payloadLength) { _, count in count = payloadLength }
        directFilled = 0
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

    /// Decodes the frame still arriving if all of it is here, and queues it for ``next()``.
    private mutating func completeIfWhole() {
        let prefix = ProtocolConstants.prefixBytes
        guard buffer.count >= prefix else { return }
        let headEnd = prefix + Int(readBigEndian(at: 0))
        let payloadLength = Int(readBigEndian(at: 4))
        let payload: [UInt8]
        if let direct {
            guard directFilled == payloadLength else { return }
            payload = direct
            self.direct = nil
            directFilled = 0
        } else {
            guard buffer.count == headEnd + payloadLength else { return }
            payload = payloadLength == 0 ? [] : Array(buffer[headEnd...])
        }
        let result: DecodedFrame
        do {
            let message = try Message.decode(header: buffer[prefix..<headEnd])
            if payloadLength > 0 && !message.carriesPayload {
                result = .invalid(ProtocolError(.invalidMessage, "\"\(message.type)\" frames carry no payload",
                                                session: message.session))
            } else {
                result = .frame(Frame(message, payload: payload))
            }
        } catch {
            result = .invalid(error)
        }
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4 << 20)
        enqueue(result, wireBytes: headEnd + payloadLength)
    }

    private mutating func enqueue(_ frame: DecodedFrame, wireBytes: Int) {
        ready.append((frame, wireBytes))
        readyBytes += wireBytes
    }

    /// Receives bytes with one read that puts a large payload where it will stay. `fill` is offered, in order,
    /// the unfilled rest of the large payload being collected (when there is one) and then `spare`; it fills
    /// them front to back (one `readv(2)`) and returns the count, or nil when nothing was read (which is
    /// returned as it is, like 0 for end of file). Bytes past the payload, in `spare`, are appended as by
    /// ``append(_:)-(UnsafeRawBufferPointer)``.
    public mutating func receive<E: Error>(spare: UnsafeMutableRawBufferPointer,
                                           _ fill: ([UnsafeMutableRawBufferPointer]) throws(E) -> Int?) throws(E) -> Int? {
        guard direct != nil else {
            guard let n = try fill([spare]) else { return nil }
            append(UnsafeRawBufferPointer(rebasing: spare[..<min(max(n, 0), spare.count)]))
            return n
        }
        var total: Int?
        var spilled = 0
        try fillDirect { (space) throws(E) -> Int in
            guard let n = try fill([space, spare]) else { return 0 }
            total = n
            spilled = max(0, n - space.count)
            return n
        }
        completeIfWhole()
        if spilled > 0 { append(UnsafeRawBufferPointer(rebasing: spare[..<min(spilled, spare.count)])) }
        return total
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { append($0) }
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() -> DecodedFrame? {
        guard readyHead < ready.count else { return nil }
        let (frame, wireBytes) = ready[readyHead]
        readyHead += 1
        readyBytes -= wireBytes
        if readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
        }
        return frame
    }

    private func readBigEndian(at index: Int) -> UInt32 {
        UInt32(buffer[index]) << 24 | UInt32(buffer[index + 1]) << 16 | UInt32(buffer[index + 2]) << 8
            | UInt32(buffer[index + 3])
    }
}
