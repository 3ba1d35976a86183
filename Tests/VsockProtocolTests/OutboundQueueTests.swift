import Testing
@testable import VsockProtocol

@Suite("Outbound queue")
struct OutboundQueueTests {
    static let out1 = Frame(.stdout(SessionRef(session: 1)), payload: Array(repeating: 1, count: 100)).encoded()
    static let out2 = Frame(.stderr(SessionRef(session: 2)), payload: Array(repeating: 2, count: 50)).encoded()
    static let ping = Frame(.ping(Ping(id: 1))).encoded()
    static let signal = Frame(.signal(SignalRequest(session: 1, signal: 2))).encoded()

    static func drainAll(_ q: inout OutboundQueue, maxWrite: Int = .max) -> [UInt8] {
        var wire: [UInt8] = []
        var calls = 0
        while !q.isEmpty && calls < 100_000 {
            q.drain { chunk in
                let n = min(chunk.count, maxWrite)
                wire += chunk[0..<n]
                return n
            }
            calls += 1
        }
        return wire
    }

    /// `stdin_close` and `exit` end their session's data, so they never overtake it; everything else does.
    /// `exit_ack` neither: the guest forgets the session on it, and would answer the session's stdin still
    /// queued behind it with `unknown_session` (seen as a warning when a `run` workload exited mid-stdin).
    @Test func endOfDataMessagesStayBehindTheData() {
        var q = OutboundQueue()
        q.enqueue(.stdin(SessionRef(session: 1)), payload: [1, 2, 3])
        q.enqueue(.stdinClose(SessionRef(session: 1)))
        q.enqueue(.stdout(SessionRef(session: 2)), payload: [4])
        q.enqueue(.exit(ExitReport(session: 2, status: ExitStatus(code: 0))))
        q.enqueue(.stdin(SessionRef(session: 3)), payload: [5])
        q.enqueue(.exitAck(SessionRef(session: 3)))
        q.enqueue(.ping(Ping(id: 1)))
        let (results, _) = decodeAll(Self.drainAll(&q))
        #expect(results.compactMap(\.frame).map(\.message.type)
                == ["ping", "stdin", "stdin_close", "stdout", "exit", "stdin", "exit_ack"])
    }

    /// A stream that never lets its lane empty (the next frame is queued before the last is out, as a busy
    /// stdin or output stream does under credit) must not keep the payloads it already wrote: each payload
    /// array is the caller's alone again once its frame is out, and memory stays bounded by what is queued.
    @Test func writtenPayloadsAreReleasedWhileTheLaneNeverEmpties() {
        var q = OutboundQueue()
        let frameSize = Frame(.stdin(SessionRef(session: 1)), payload: [UInt8](repeating: 0, count: 4096)).encoded().count
        var older = [UInt8](repeating: 0, count: 4096)
        q.enqueue(.stdin(SessionRef(session: 1)), payload: older[...])
        for i in 1...300 {
            let newer = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 4096)
            q.enqueue(.stdin(SessionRef(session: 1)), payload: newer[...])
            // Exactly the older frame goes out; the newer one stays queued, so the lane never empties.
            var left = frameSize
            while left > 0 {
                q.drain { chunk in
                    let n = min(chunk.count, left)
                    left -= n
                    return n
                }
            }
            #expect(q.byteCount == frameSize)
            // A write into a shared array copies it first: the storage stays put only if nobody else holds it.
            let storage = older.withUnsafeBufferPointer { $0.baseAddress }
            older[0] &+= 1
            #expect(older.withUnsafeBufferPointer { $0.baseAddress } == storage,
                    "frame \(i - 1) is out but the queue still holds its payload")
            older = newer
        }
    }

    @Test func controlFramesGoBeforeBulk() {
        var q = OutboundQueue()
        q.enqueue(Self.out1, control: false)
        q.enqueue(Self.out2, control: false)
        q.enqueue(Self.ping, control: true)
        q.enqueue(Self.signal, control: true)
        #expect(q.byteCount == Self.out1.count + Self.out2.count + Self.ping.count + Self.signal.count)
        #expect(Self.drainAll(&q) == Self.ping + Self.signal + Self.out1 + Self.out2)
        #expect(q.isEmpty && q.byteCount == 0)
    }

    @Test func messagesGoToTheirLane() {
        var q = OutboundQueue()
        q.enqueue(.stdout(SessionRef(session: 1)), payload: Array(repeating: 1, count: 100))
        q.enqueue(.window(WindowUpdate(session: 1, bytes: 5)))
        q.enqueue(.stdin(SessionRef(session: 1)), payload: [])
        q.enqueue(.signal(SignalRequest(session: 1, signal: 2)))
        let wire = Self.drainAll(&q)
        let (results, _) = decodeAll(wire)
        #expect(results.compactMap(\.frame).map(\.message.type) == ["window", "signal", "stdout", "stdin"])
    }

    /// Partial writes resume where they stopped; a frame in progress is finished before anything else
    /// (frames are never interleaved), then control frames overtake the remaining bulk.
    @Test func partialWritesAndControlArrivingMidFrame() {
        var q = OutboundQueue()
        q.enqueue(Self.out1, control: false)
        q.enqueue(Self.out2, control: false)
        var wire: [UInt8] = []
        q.drain { chunk in wire += chunk[0..<10]; return 10 }
        #expect(wire == Array(Self.out1[0..<10]))
        #expect(q.byteCount == Self.out1.count + Self.out2.count - 10)
        q.enqueue(Self.ping, control: true)
        wire += Self.drainAll(&q, maxWrite: 7)
        #expect(wire == Self.out1 + Self.ping + Self.out2)
        #expect(q.byteCount == 0)
    }

    @Test func wouldBlockAndErrorsLeaveTheQueueIntact() throws {
        struct Broken: Error {}
        var q = OutboundQueue()
        q.enqueue(Self.out1, control: false)
        q.drain { _ in 0 }
        #expect(q.byteCount == Self.out1.count)
        #expect(throws: Broken.self) { try q.drain { _ in throw Broken() } }
        #expect(q.byteCount == Self.out1.count)
        #expect(Self.drainAll(&q, maxWrite: 3) == Self.out1)
    }

    @Test func emptyFramesAreIgnoredAndDrainStopsWhenEmpty() {
        var q = OutboundQueue()
        q.enqueue([], control: true)
        #expect(q.isEmpty)
        var calls = 0
        q.drain { _ in calls += 1; return 0 }
        #expect(calls == 0)
    }

    /// Many interleaved enqueues and random short writes: the wire holds every control frame in order, every
    /// bulk frame in order, whole and unmixed.
    @Test func randomInterleavingKeepsFramesWholeAndOrdered() {
        var rng = SplitMix64(seed: 5)
        var q = OutboundQueue()
        var wire: [UInt8] = []
        var sentControl: [Frame] = []
        var sentBulk: [Frame] = []
        for i in 0..<3000 {
            if rng.chance(30) {
                let f = Frame(.ping(Ping(id: UInt64(i))))
                sentControl.append(f)
                q.enqueue(f.message)
            } else {
                let f = Frame(.stdout(SessionRef(session: 1)), payload: rng.bytes(rng.below(200)))
                sentBulk.append(f)
                q.enqueue(f.message, payload: f.payload)
            }
            if rng.chance(50) {
                let n = rng.below(300)
                q.drain { chunk in
                    let k = min(chunk.count, n)
                    wire += chunk[0..<k]
                    return k
                }
            }
        }
        wire += Self.drainAll(&q)
        let received = decodeAll(wire).results.compactMap(\.frame)
        #expect(received.count == sentControl.count + sentBulk.count)
        #expect(received.filter(\.message.isControl) == sentControl)
        #expect(received.filter { !$0.message.isControl } == sentBulk)
    }

    /// The vectored drain: many frames per call, payload arrays written from their own storage, the same wire
    /// bytes as the one-buffer drain.
    @Test func oneWritevCarriesManyFramesAndPayloadsAreNotCopied() {
        let big = [UInt8](repeating: 9, count: 4096)
        var q = OutboundQueue()
        q.enqueue(.stdout(SessionRef(session: 1)), payload: big)
        q.enqueue(.ping(Ping(id: 1)))
        q.enqueue(.stderr(SessionRef(session: 1)), payload: [1, 2, 3])
        var calls = 0
        var wire: [UInt8] = []
        var payloadAddress: UnsafeRawPointer?
        q.drain(writev: { buffers in
            calls += 1
            // ping (control, one segment), stdout head, stdout payload, stderr (small payload inline: one segment)
            #expect(buffers.count == 4)
            payloadAddress = buffers[2].baseAddress
            for b in buffers { wire += b }
            return buffers.reduce(0) { $0 + $1.count }
        })
        #expect(calls == 1 && q.isEmpty)
        #expect(payloadAddress == big.withUnsafeBytes { $0.baseAddress }, "the payload segment is the caller's array")
        #expect(wire == Self.ping + Frame(.stdout(SessionRef(session: 1)), payload: big).encoded()
                + Frame(.stderr(SessionRef(session: 1)), payload: [1, 2, 3]).encoded())
    }

    @Test func writevIsOfferedAtMostTheSegmentCap() {
        var q = OutboundQueue()
        for i in 0..<(OutboundQueue.maxSegmentsPerWrite + 10) { q.enqueue(.ping(Ping(id: UInt64(i)))) }
        var offered: [Int] = []
        q.drain(writev: { buffers in offered.append(buffers.count); return buffers.reduce(0) { $0 + $1.count } })
        #expect(offered == [OutboundQueue.maxSegmentsPerWrite, 10])
        #expect(q.isEmpty)
    }

    /// Random frames (small, inline and segmented payloads) and random short vectored writes that stop anywhere,
    /// mid-header or mid-payload: frames stay whole, control overtakes bulk only between frames, and a queue fed
    /// only bulk frames puts exactly the concatenated encodings on the wire.
    @Test func randomShortVectoredWritesKeepTheWireIdentical() {
        var rng = SplitMix64(seed: 11)
        var q = OutboundQueue()
        var wire: [UInt8] = []
        var sentControl: [Frame] = []
        var sentBulk: [Frame] = []
        func writeSome(_ n: Int) {
            q.drain(writev: { buffers in
                var left = n
                for b in buffers where left > 0 {
                    let k = min(b.count, left)
                    wire += b[0..<k]
                    left -= k
                }
                return n - left
            })
        }
        for i in 0..<1500 {
            if rng.chance(20) {
                let f = Frame(.window(WindowUpdate(session: 1, bytes: UInt32(i + 1))))
                sentControl.append(f)
                q.enqueue(f.message)
            } else {
                let size = rng.chance(50) ? rng.below(3000) : rng.below(64)
                let f = Frame(.stdout(SessionRef(session: 1)), payload: rng.bytes(size))
                sentBulk.append(f)
                q.enqueue(f.message, payload: f.payload)
            }
            if rng.chance(40) { writeSome(rng.below(5000)) }
        }
        while !q.isEmpty { writeSome(rng.below(5000) + 1) }
        let received = decodeAll(wire).results.compactMap(\.frame)
        #expect(received.filter(\.message.isControl) == sentControl)
        #expect(received.filter { !$0.message.isControl } == sentBulk)
        #expect(received.count == sentControl.count + sentBulk.count)

        var bulkOnly = OutboundQueue()
        for f in sentBulk.prefix(200) { bulkOnly.enqueue(f.message, payload: f.payload[...]) }
        var bulkWire: [UInt8] = []
        while !bulkOnly.isEmpty {
            let n = rng.below(7000) + 1
            bulkOnly.drain(writev: { buffers in
                var left = n
                for b in buffers where left > 0 { let k = min(b.count, left); bulkWire += b[0..<k]; left -= k }
                return n - left
            })
        }
        #expect(bulkWire == sentBulk.prefix(200).flatMap { $0.encoded() })
    }
}
