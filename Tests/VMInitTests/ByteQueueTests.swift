import Testing
@testable import VMInit

/// The queue behind vm-init's stdin and pending output: arrays kept as they came, consumed from the front.
struct ByteQueueTests {
    @Test func takeHandsOutSlicesOfOneChunkInOrder() {
        var queue = ByteQueue<OutputStream>()
        queue.append([1, 2, 3, 4], tag: .stdout)
        queue.append([5, 6], tag: .stderr)
        #expect(queue.byteCount == 6)
        let first = queue.take(upTo: 3)
        #expect(first?.tag == .stdout)
        #expect(first.map { Array($0.bytes) } == [1, 2, 3])
        // Never spans two chunks: the rest of the first, then the second.
        #expect(queue.take(upTo: 10).map { Array($0.bytes) } == [4])
        let last = queue.take(upTo: 10)
        #expect(last?.tag == .stderr)
        #expect(last.map { Array($0.bytes) } == [5, 6])
        #expect(queue.isEmpty)
        #expect(queue.take(upTo: 10) == nil)
    }

    @Test func copiedReadsMergeUpToTheLimitButNeverIntoAPartlyTakenFront() {
        var queue = ByteQueue<OutputStream>()
        let bytes: [UInt8] = [1, 2, 3]
        bytes.withUnsafeBytes { queue.append(copying: $0, tag: .stdout, mergeLimit: 6) }
        bytes.withUnsafeBytes { queue.append(copying: $0, tag: .stdout, mergeLimit: 6) }
        bytes.withUnsafeBytes { queue.append(copying: $0, tag: .stdout, mergeLimit: 6) }  // over the limit
        #expect(queue.front.map { Array($0.bytes) } == [1, 2, 3, 1, 2, 3])
        #expect(queue.byteCount == 9)

        var single = ByteQueue<OutputStream>()
        bytes.withUnsafeBytes { single.append(copying: $0, tag: .stdout, mergeLimit: 100) }
        let taken = single.take(upTo: 1)
        bytes.withUnsafeBytes { single.append(copying: $0, tag: .stdout, mergeLimit: 100) }
        #expect(taken.map { Array($0.bytes) } == [1])
        #expect(single.front.map { Array($0.bytes) } == [2, 3], "the partly taken chunk was grown")
        #expect(single.byteCount == 5)
    }

    /// A session's stdin arrays (1 MiB frames) are let go as soon as they are written, though the queue never
    /// runs empty while the host keeps it fed.
    @Test func consumedChunksAreFreedAtOnceWhileTheQueueNeverEmpties() {
        var queue = ByteQueue<Untagged>()
        var older = [UInt8](repeating: 0, count: 4096)
        queue.append(older)
        for i in 1...200 {
            let newer = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
            queue.append(newer)
            queue.consume(4096)  // the older chunk, exactly: the newer one stays queued
            #expect(queue.byteCount == 4096)
            // A write into a shared array copies it first: the storage stays put only if nobody else holds it.
            let storage = older.withUnsafeBufferPointer { $0.baseAddress }
            older[0] &+= 1
            #expect(older.withUnsafeBufferPointer { $0.baseAddress } == storage, "chunk \(i - 1) was consumed but is still held")
            older = newer
        }
    }

    @Test func consumeCrossesChunksAndTheQueueStaysUsable() {
        var queue = ByteQueue<Untagged>()
        for i in 0..<200 { queue.append([UInt8(truncatingIfNeeded: i), 0xFF]) }
        queue.append([])  // dropped
        #expect(queue.byteCount == 400)
        queue.consume(3)  // chunk 0, chunk 1's first byte
        #expect(queue.front.map { Array($0.bytes) } == [0xFF])
        queue.consume(2 * 150)  // past the compaction point
        #expect(queue.byteCount == 97)
        #expect(queue.front.map { Array($0.bytes) } == [0xFF])
        queue.consume(1)
        #expect(queue.front.map { Array($0.bytes) } == [152, 0xFF])
        queue.consume(1000)
        #expect(queue.isEmpty && queue.front == nil)
        queue.append([9])
        #expect(queue.front.map { Array($0.bytes) } == [9])
    }
}
