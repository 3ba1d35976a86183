import VsockProtocol

/// A FIFO of byte arrays, each with a tag (the output stream), consumed from the front without copying: arrays
/// are kept as they came (in a ``ChunkQueue``), and an offset into the front array marks what is consumed. What is
/// taken is an `ArraySlice` sharing the array's storage, so handing it to a connection copies nothing.
///
/// vm-init keeps a session's stdin (arrays as the frames brought them) and its pending output (reads merged into
/// chunks of up to ``Session/maxChunk``) in these.
struct ByteQueue<Tag: Equatable> {
    private var chunks = ChunkQueue<(tag: Tag, bytes: [UInt8])>()
    /// Bytes of the front chunk already consumed.
    private var offset = 0
    /// Bytes queued and not consumed.
    private(set) var byteCount = 0

    var isEmpty: Bool { byteCount == 0 }

    /// The unconsumed part of the front chunk.
    var front: (tag: Tag, bytes: ArraySlice<UInt8>)? {
        chunks.first.map { ($0.tag, $0.bytes[offset...]) }
    }

    /// Queues `bytes` as one chunk, keeping the array (no copy). Empty arrays are dropped.
    mutating func append(_ bytes: [UInt8], tag: Tag) {
        guard !bytes.isEmpty else { return }
        chunks.append((tag, bytes))
        byteCount += bytes.count
    }

    /// Queues a copy of `bytes`, merged into the last chunk when it has the same tag and stays within
    /// `mergeLimit` bytes (fewer, larger frames downstream). A partly consumed front chunk is never grown: a
    /// slice taken from it may still be queued on a connection, and growing the shared array would copy it.
    mutating func append(copying bytes: UnsafeRawBufferPointer, tag: Tag, mergeLimit: Int) {
        guard bytes.count > 0 else { return }
        let fits = chunks.last.map { $0.tag == tag && $0.bytes.count + bytes.count <= mergeLimit } ?? false
        if fits && !(chunks.count == 1 && offset > 0) {
            chunks.updateLast { $0.bytes.append(contentsOf: bytes) }
        } else {
            chunks.append((tag, Array(bytes)))
        }
        byteCount += bytes.count
    }

    /// Removes and returns up to `count` bytes of the front chunk (never spanning two chunks, so one tag).
    mutating func take(upTo count: Int) -> (tag: Tag, bytes: ArraySlice<UInt8>)? {
        guard count > 0, let (tag, bytes) = front else { return nil }
        let taken = bytes.prefix(count)
        consume(taken.count)
        return (tag, taken)
    }

    /// Marks `count` bytes from the front as consumed (across chunks; at most ``byteCount``). A chunk consumed
    /// whole is let go at once.
    mutating func consume(_ count: Int) {
        var left = min(count, byteCount)
        byteCount -= left
        while left > 0, let remaining = chunks.first.map({ $0.bytes.count - offset }) {
            if left < remaining {
                offset += left
                return
            }
            left -= remaining
            chunks.removeFirst()
            offset = 0
        }
    }

    /// Drops everything.
    mutating func removeAll() {
        chunks.removeAll()
        offset = 0
        byteCount = 0
    }
}

/// The tag of a queue whose chunks need none (a session's stdin).
struct Untagged: Equatable {}

extension ByteQueue where Tag == Untagged {
    /// Queues `bytes` as one chunk, keeping the array.
    mutating func append(_ bytes: [UInt8]) { append(bytes, tag: Untagged()) }
}
