/// Frames waiting to be written to one connection, in two lanes: control frames (``Message/isControl``:
/// ping/pong, signal, resize, window, errors, …) always go out before bulk stdio data, so a flood of output can
/// never delay a heartbeat or a signal by more than the one write in progress. `stdin_close` and `exit` go in
/// the bulk lane, behind the data they end.
///
/// Bulk data is bounded by the flow-control windows, not here; the queue tracks its size so owners can
/// measure and assert it.
public struct OutboundQueue: Sendable {
    private var control: [[UInt8]] = []
    private var controlHead = 0
    private var bulk: [[UInt8]] = []
    private var bulkHead = 0
    /// The frame being written, and how much of it is written.
    private var current: [UInt8] = []
    private var currentOffset = 0

    /// Bytes queued, including the unwritten rest of the frame in progress.
    public private(set) var byteCount = 0

    public init() {}

    public var isEmpty: Bool { byteCount == 0 }

    /// Queues an encoded frame in the lane its message belongs to.
    public mutating func enqueue(_ frame: [UInt8], control isControl: Bool) {
        guard !frame.isEmpty else { return }
        byteCount += frame.count
        if isControl { control.append(frame) } else { bulk.append(frame) }
    }

    /// Encodes and queues a message.
    public mutating func enqueue(_ message: Message, payload: [UInt8] = []) {
        var bytes: [UInt8] = []
        Frame.encode(message, payload: payload, into: &bytes)
        enqueue(bytes, control: message.isControl)
    }

    /// Calls `write` with the next bytes to send until it reports a short write or the queue is empty.
    /// `write` returns how many bytes it wrote (0 when the socket would block).
    public mutating func drain(_ write: (UnsafeRawBufferPointer) throws -> Int) rethrows {
        while true {
            if currentOffset == current.count {
                guard let next = popNext() else { return }
                current = next
                currentOffset = 0
            }
            let written = try current.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[currentOffset...])) }
            currentOffset += written
            byteCount -= written
            if currentOffset < current.count { return }
        }
    }

    private mutating func popNext() -> [UInt8]? {
        if controlHead < control.count {
            defer { controlHead += 1; if controlHead == control.count { control.removeAll(keepingCapacity: true); controlHead = 0 } }
            return control[controlHead]
        }
        if bulkHead < bulk.count {
            defer { bulkHead += 1; if bulkHead == bulk.count { bulk.removeAll(keepingCapacity: true); bulkHead = 0 } }
            return bulk[bulkHead]
        }
        return nil
    }
}
