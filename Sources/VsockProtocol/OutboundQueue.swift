/// Frames waiting to be written to one connection, in two lanes: control frames (``Message/isControl``:
/// ping/pong, signal, resize, window, errors, …) always go out before bulk stdio data, so a flood of output can
/// never delay a heartbeat or a signal by more than the one write in progress. `stdin_close` and `exit` go in
/// the bulk lane, behind the data they end.
///
/// A frame is stored as segments, not concatenated: its encoded prefix+header, and its payload as the caller's
/// own array (shared, not copied). ``drain(writev:)`` hands the owner up to ``maxSegmentsPerWrite`` segments per
/// call, so one `writev(2)` sends many frames and their payloads straight from where they were received
/// (the shape of swift-nio's `PendingWritesManager`).
///
/// A payload may also stay out of memory altogether: a ``SplicedPayload`` is bytes waiting in a pipe that the
/// owner moves to the connection itself (`splice(2)`), after the frame's header and before anything else.
///
/// Bulk data is bounded by the flow-control windows, not here; the queue tracks its size so owners can
/// measure and assert it.
public struct OutboundQueue: Sendable {
    /// One queued frame: the bytes before its payload (or the whole frame) and the payload it shares, or the
    /// payload the owner splices.
    struct Entry: Sendable {
        var head: [UInt8]
        var payload: ArraySlice<UInt8>
        var spliced: SplicedPayload? = nil
        var count: Int { head.count + payload.count + (spliced?.count ?? 0) }
    }

    /// Most segments (iovecs) offered to one `writev`; far below IOV_MAX (1024), and enough that one call
    /// carries a whole turn's worth of frames.
    public static let maxSegmentsPerWrite = 64
    /// Payloads up to this size are copied behind their header: one small copy is cheaper than a second iovec.
    static let inlinePayloadLimit = 1024

    private var control = ChunkQueue<Entry>()
    private var bulk = ChunkQueue<Entry>()
    /// The frame being written (already taken out of its lane), and how much of it is written.
    private var current: Entry?
    private var currentOffset = 0
    /// The last write was short: the socket is probably full. The next drain probes with one segment (one cheap
    /// syscall, as an unvectored queue would) before gathering many; a peer that does not read while frames keep
    /// being queued (each queued frame is followed by a drain) then costs no gathering per frame.
    private var lastWriteWasShort = false

    /// Bytes queued, including the unwritten rest of the frame in progress.
    public private(set) var byteCount = 0
    /// Sources of spliced payloads written out completely since ``takeFinishedSplices()`` was last called.
    private var finishedSplices: [Int32] = []

    public init() {}

    public var isEmpty: Bool { byteCount == 0 }

    /// Queues an encoded frame in the lane its message belongs to.
    public mutating func enqueue(_ frame: [UInt8], control isControl: Bool) {
        guard !frame.isEmpty else { return }
        append(Entry(head: frame, payload: []), control: isControl)
    }

    /// Encodes and queues a message. The payload array is kept as it is (no copy) and written from there.
    public mutating func enqueue(_ message: Message, payload: [UInt8] = []) {
        enqueue(message, payload: payload[...])
    }

    /// Encodes and queues a message whose payload is part of a larger array (kept, not copied).
    public mutating func enqueue(_ message: Message, payload: ArraySlice<UInt8>) {
        var head: [UInt8] = []
        if payload.count <= Self.inlinePayloadLimit {
            Frame.encodeHead(message, payloadCount: payload.count, into: &head, reserving: payload.count)
            head.append(contentsOf: payload)
            append(Entry(head: head, payload: []), control: message.isControl)
        } else {
            Frame.encodeHead(message, payloadCount: payload.count, into: &head)
            append(Entry(head: head, payload: payload), control: message.isControl)
        }
    }

    /// Encodes and queues a message whose payload lives in a buffer the caller reuses: it is copied once,
    /// behind the header.
    public mutating func enqueue(_ message: Message, payload: UnsafeRawBufferPointer) {
        var bytes: [UInt8] = []
        Frame.encode(message, payload: payload, into: &bytes)
        append(Entry(head: bytes, payload: []), control: message.isControl)
    }

    /// Queues a stdio message whose payload is `spliced.count` bytes that wait in the pipe `spliced.source`:
    /// the header is written like any other; the payload is moved by the `splice` closure of
    /// ``drain(writev:splice:)`` when the header is out, and nothing else is written until all of it is. The
    /// owner must have those bytes in the pipe already and let nobody else read it until they are moved.
    public mutating func enqueue(_ message: Message, splicing spliced: SplicedPayload) {
        guard spliced.count > 0 else { return enqueue(message) }
        var head: [UInt8] = []
        Frame.encodeHead(message, payloadCount: spliced.count, into: &head)
        append(Entry(head: head, payload: [], spliced: spliced), control: message.isControl)
    }

    /// Bytes of spliced payloads from `source` not yet moved (queued, or the rest of the frame in progress).
    public func splicedBytes(from source: Int32) -> Int {
        func left(_ entry: Entry, _ offset: Int) -> Int {
            guard let spliced = entry.spliced, spliced.source == source else { return 0 }
            return min(spliced.count, entry.count - offset)
        }
        var total = current.map { left($0, currentOffset) } ?? 0
        for entry in control.elements { total += left(entry, 0) }
        for entry in bulk.elements { total += left(entry, 0) }
        return total
    }

    /// The sources whose spliced payloads were written out completely since the last call, in order.
    public mutating func takeFinishedSplices() -> [Int32] {
        defer { finishedSplices.removeAll() }
        return finishedSplices
    }

    private mutating func append(_ entry: Entry, control isControl: Bool) {
        byteCount += entry.count
        if isControl { control.append(entry) } else { bulk.append(entry) }
    }

    /// Calls `writev` with up to ``maxSegmentsPerWrite`` segments, in wire order, until it reports a short write
    /// or the queue is empty. `writev` returns how many bytes it wrote from the front of the segments (0 when the
    /// socket would block). A throw leaves the queue as it was before that call.
    /// (Disfavoured only so that a trailing closure `drain { _ in … }` still means the one-buffer form below.)
    /// A queue that may hold spliced payloads is drained with ``drain(writev:splice:)``.
    @_disfavoredOverload
    public mutating func drain<E: Error>(writev: ([UnsafeRawBufferPointer]) throws(E) -> Int) throws(E) {
        try drain(maxSegments: Self.maxSegmentsPerWrite, writev, headsWithPayloads: false)
    }

    /// ``drain(writev:)`` for a queue with spliced payloads: when the front of the queue is one (its header is
    /// written), `splice` is called with the source and the count still to move, and returns how many bytes it
    /// moved (0 when the stream would block). A short count ends the drain, like a short write.
    public mutating func drain<E: Error>(writev: ([UnsafeRawBufferPointer]) throws(E) -> Int,
                                         splice: (SplicedPayload) throws(E) -> Int) throws(E) {
        // The header is out by the time its frame is handed over (`writev` wrote it): only the payload is left.
        try drain(maxSegments: Self.maxSegmentsPerWrite, writev, headsWithPayloads: false) { (_, payload) throws(E) -> Int in
            try splice(payload)
        }
    }

    /// ``drain(writev:splice:)`` for a stream that takes a spliced frame's header together with its payload: such
    /// a frame goes to `spliceFrame` whole, as the unwritten rest of its header (empty once that is out) and the
    /// rest of its payload, and `spliceFrame` returns how many bytes of the two, in that order, it moved (0 when
    /// the stream would block). `writev` never gets a spliced frame's header. (vm-init's virtio-serial port: one
    /// descriptor chain and one notification of the host per frame instead of two.)
    public mutating func drain<E: Error>(writev: ([UnsafeRawBufferPointer]) throws(E) -> Int,
                                         spliceFrame: (UnsafeRawBufferPointer, SplicedPayload) throws(E) -> Int) throws(E) {
        try drain(maxSegments: Self.maxSegmentsPerWrite, writev, headsWithPayloads: true, spliceFrame: spliceFrame)
    }

    /// Calls `write` with the next bytes to send until it reports a short write or the queue is empty.
    /// `write` returns how many bytes it wrote (0 when the socket would block).
    public mutating func drain<E: Error>(_ writeOne: (UnsafeRawBufferPointer) throws(E) -> Int) throws(E) {
        try drain(maxSegments: 1, { (segments) throws(E) -> Int in try writeOne(segments[0]) }, headsWithPayloads: false)
    }

    /// With `headsWithPayloads` false a spliced frame's header goes out by `writeSegments` and only the rest of
    /// the frame reaches `spliceFrame` (with an empty header); without a `spliceFrame` the drain stops there.
    private mutating func drain<E: Error>(maxSegments: Int, _ writeSegments: ([UnsafeRawBufferPointer]) throws(E) -> Int,
                                          headsWithPayloads: Bool,
                                          spliceFrame: (UnsafeRawBufferPointer, SplicedPayload) throws(E) -> Int = { _, _ in 0 }) throws(E) {
        while !isEmpty {
            if let (entry, offset) = splicedFrameAtFront, let spliced = entry.spliced,
               headsWithPayloads || offset >= entry.head.count + entry.payload.count {
                let left = entry.count - offset
                let head = offset < entry.head.count ? entry.head[offset...] : []
                var outcome: Result<Int, E> = .success(0)
                head.withUnsafeBytes { raw in
                    let payload = SplicedPayload(source: spliced.source, count: left - raw.count)
                    do throws(E) { outcome = .success(try spliceFrame(raw, payload)) } catch { outcome = .failure(error) }
                }
                let moved = min(max(try outcome.get(), 0), left)
                consume(moved)
                lastWriteWasShort = moved < left
                if lastWriteWasShort { return }
                continue
            }
            let pieces = gather(maxSegments: lastWriteWasShort ? 1 : maxSegments, splicedHeads: !headsWithPayloads)
            let offered = pieces.reduce(0) { $0 + $1.count }
            var outcome: Result<Int, E> = .success(0)
            var buffers: [UnsafeRawBufferPointer] = []
            buffers.reserveCapacity(pieces.count)
            Self.withBuffers(pieces[...], &buffers) { buffers in
                do throws(E) { outcome = .success(try writeSegments(buffers)) } catch { outcome = .failure(error) }
            }
            // Never more than offered, whatever the closure claims: the queue's count stays consistent.
            let written = min(max(try outcome.get(), 0), offered)
            consume(written)
            lastWriteWasShort = written < offered
            if lastWriteWasShort { return }
        }
    }

    /// The frame that comes next on the wire and how much of it is out, when its payload is spliced.
    private var splicedFrameAtFront: (Entry, Int)? {
        if let current { return current.spliced == nil ? nil : (current, currentOffset) }
        guard let next = control.first ?? bulk.first, next.spliced != nil else { return nil }
        return (next, 0)
    }

    /// The next segments in wire order: the rest of the frame in progress, then control frames, then bulk. It
    /// stops after the header of a frame whose payload is spliced (that payload goes next, by itself), or before
    /// that header when `splicedHeads` is false (the header goes with the payload).
    private func gather(maxSegments: Int, splicedHeads: Bool = true) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        func add(_ entry: Entry, from offset: Int) -> Bool {
            if !splicedHeads && entry.spliced != nil { return false }
            if offset < entry.head.count {
                guard pieces.count < maxSegments else { return false }
                pieces.append(entry.head[offset...])
            }
            let payloadOffset = max(0, offset - entry.head.count)
            if payloadOffset < entry.payload.count {
                guard pieces.count < maxSegments else { return false }
                pieces.append(entry.payload.dropFirst(payloadOffset))
            }
            return entry.spliced == nil && pieces.count < maxSegments
        }
        if let current, !add(current, from: currentOffset) { return pieces }
        for entry in control.elements where !add(entry, from: 0) { return pieces }
        for entry in bulk.elements where !add(entry, from: 0) { return pieces }
        return pieces
    }

    /// Drops `written` bytes from the front, in the order ``gather(maxSegments:)`` offered them; a frame cut short
    /// becomes the frame in progress.
    private mutating func consume(_ written: Int) {
        byteCount -= written
        var left = written
        while left > 0 {
            let entry: Entry
            if let current { entry = current } else if let next = control.removeFirst() ?? bulk.removeFirst() {
                entry = next
                currentOffset = 0
            } else {
                return
            }
            let remaining = entry.count - currentOffset
            if left >= remaining {
                left -= remaining
                current = nil
                currentOffset = 0
                if let spliced = entry.spliced { finishedSplices.append(spliced.source) }
            } else {
                current = entry
                currentOffset += left
                left = 0
            }
        }
    }

    /// Pins every piece's storage for the duration of `body` (nested `withUnsafeBytes`, one level per piece:
    /// the pointers are valid without escaping any of them).
    private static func withBuffers(_ pieces: ArraySlice<ArraySlice<UInt8>>, _ buffers: inout [UnsafeRawBufferPointer],
                                    _ body: ([UnsafeRawBufferPointer]) -> Void) {
        guard let first = pieces.first else { return body(buffers) }
        first.withUnsafeBytes { raw in
            buffers.append(raw)
            withBuffers(pieces.dropFirst(), &buffers, body)
        }
    }
}

/// A frame payload that stays in a pipe until it is written: `count` bytes that the queue's owner moves from
/// the descriptor `source` to the connection (``OutboundQueue/enqueue(_:splicing:)``).
public struct SplicedPayload: Sendable, Equatable {
    public var source: Int32
    public var count: Int

    public init(source: Int32, count: Int) {
        self.source = source
        self.count = count
    }
}
