import Testing
@testable import VsockProtocol

/// Frames whose payload the owner moves from a pipe (``OutboundQueue/enqueue(_:splicing:)``).
@Suite("Outbound queue, spliced payloads")
struct OutboundQueueSpliceTests {
    /// A stand-in for the pipes and the stream: `splice` moves bytes from a pipe's front onto the wire.
    struct Wire {
        var bytes: [UInt8] = []
        var pipes: [Int32: [UInt8]] = [:]
        /// Bytes the stream still takes (each write and splice uses some up); 0 stands for a full stream.
        var room = Int.max
        var spliceCalls: [SplicedPayload] = []
        /// With headers that go with their payloads: each call's header bytes and payload.
        var frameCalls: [(head: Int, payload: SplicedPayload)] = []
        /// Bytes that `writev` wrote (not the headers that went with their payloads).
        var written = 0

        /// Writes the buffers in order as far as the stream has room.
        mutating func write(_ buffers: [UnsafeRawBufferPointer]) -> Int {
            var total = 0
            for buffer in buffers {
                let n = min(buffer.count, room)
                bytes += buffer[0..<n]
                total += n
                room -= n
                if n < buffer.count { break }
            }
            written += total
            return total
        }

        /// Moves up to `spliced.count` bytes from the front of its pipe, as far as the stream has room.
        mutating func move(_ spliced: SplicedPayload) -> Int {
            let n = min(spliced.count, room, pipes[spliced.source, default: []].count)
            bytes += pipes[spliced.source, default: []].prefix(n)
            pipes[spliced.source, default: []].removeFirst(n)
            room -= n
            return n
        }

        mutating func drain(_ q: inout OutboundQueue) {
            q.drain(writev: { (buffers: [UnsafeRawBufferPointer]) -> Int in write(buffers) },
                    splice: { (spliced: SplicedPayload) -> Int in
                spliceCalls.append(spliced)
                return move(spliced)
            })
        }

        /// The drain of a stream that takes a spliced frame's header with its payload (a virtio-serial port).
        mutating func drainWithHeads(_ q: inout OutboundQueue) {
            q.drain(writev: { (buffers: [UnsafeRawBufferPointer]) -> Int in write(buffers) },
                    spliceFrame: { (head: UnsafeRawBufferPointer, spliced: SplicedPayload) -> Int in
                frameCalls.append((head.count, spliced))
                let h = write([head])
                written -= h
                return h == head.count ? h + move(spliced) : h
            })
        }
    }

    static let ref = SessionRef(session: 1)

    /// A queue holding one stdout frame whose `count` bytes of 5 wait in pipe `source`, and its header's length.
    static func oneSplicedFrame(of count: Int, from source: Int32) -> (OutboundQueue, Wire, head: Int) {
        var q = OutboundQueue()
        var wire = Wire()
        wire.pipes[source] = Array(repeating: 5, count: count)
        q.enqueue(.stdout(ref), splicing: SplicedPayload(source: source, count: count))
        return (q, wire, q.byteCount - count)
    }

    @Test func theHeaderGoesOutThenThePipesBytesThenWhatFollows() {
        var q = OutboundQueue()
        var wire = Wire()
        wire.pipes[7] = Array(0..<100)
        q.enqueue(.stdout(Self.ref), splicing: SplicedPayload(source: 7, count: 60))
        q.enqueue(.stderr(Self.ref), payload: [9, 9])
        #expect(q.splicedBytes(from: 7) == 60 && q.splicedBytes(from: 8) == 0)
        wire.drain(&q)
        #expect(q.isEmpty && q.byteCount == 0)
        #expect(wire.spliceCalls == [SplicedPayload(source: 7, count: 60)])
        #expect(wire.pipes[7] == Array(60..<100), "only what the header announced leaves the pipe")
        let frames = decodeAll(wire.bytes).results.compactMap(\.frame)
        #expect(frames.map(\.message.type) == ["stdout", "stderr"])
        #expect(frames.first?.payload == Array(0..<60))
        #expect(q.takeFinishedSplices() == [7])
        #expect(q.takeFinishedSplices() == [])
    }

    /// A stream that takes part of the payload: the rest is spliced on the next drain, and a control frame
    /// queued meanwhile waits behind it (nothing is written inside a frame).
    @Test func aShortSpliceResumesWhereItStoppedAndNothingCutsIn() {
        var (q, wire, head) = Self.oneSplicedFrame(of: 40_000, from: 3)
        wire.room = head + 10_000
        wire.drain(&q)
        #expect(q.byteCount == 30_000 && q.splicedBytes(from: 3) == 30_000)
        #expect(q.takeFinishedSplices() == [])
        q.enqueue(.ping(Ping(id: 4)))
        wire.room = 0
        wire.drain(&q)
        #expect(q.byteCount == 30_000 + Frame(.ping(Ping(id: 4))).encoded().count, "a full stream moves nothing")
        wire.room = .max
        wire.drain(&q)
        #expect(q.isEmpty)
        #expect(wire.spliceCalls.map(\.count) == [40_000, 30_000, 30_000], "the full stream was asked once")
        let frames = decodeAll(wire.bytes).results.compactMap(\.frame)
        #expect(frames.map(\.message.type) == ["stdout", "ping"])
        #expect(frames.first?.payload == Array(repeating: 5, count: 40_000))
        #expect(q.takeFinishedSplices() == [3])
    }

    /// Control frames still overtake a spliced frame that has not started, and a header cut short is finished
    /// by plain writes before its payload is spliced.
    @Test func controlOvertakesAnUnstartedSplicedFrameAndACutHeaderIsFinishedFirst() {
        var q = OutboundQueue()
        var wire = Wire()
        wire.pipes[4] = [1, 2, 3]
        q.enqueue(.stdout(Self.ref), splicing: SplicedPayload(source: 4, count: 3))
        q.enqueue(.window(WindowUpdate(session: 1, bytes: 10)))
        wire.room = Frame(.window(WindowUpdate(session: 1, bytes: 10))).encoded().count + 5
        wire.drain(&q)
        #expect(wire.spliceCalls.isEmpty)
        wire.room = .max
        wire.drain(&q)
        let frames = decodeAll(wire.bytes).results.compactMap(\.frame)
        #expect(frames.map(\.message.type) == ["window", "stdout"])
        #expect(frames.last?.payload == [1, 2, 3])
    }

    /// The plain drain never splices: a spliced frame waits at its payload (owners that splice use the other).
    @Test func thePlainDrainStopsAtASplicedPayload() {
        var q = OutboundQueue()
        q.enqueue(.stdout(Self.ref), splicing: SplicedPayload(source: 4, count: 3))
        var written = 0
        q.drain(writev: { (buffers: [UnsafeRawBufferPointer]) -> Int in
            let n = buffers.reduce(0) { $0 + $1.count }
            written += n
            return n
        })
        #expect(q.byteCount == 3 && written > 0)
    }

    @Test func anEmptySplicedPayloadIsAnOrdinaryFrame() {
        var q = OutboundQueue()
        var wire = Wire()
        q.enqueue(.stdout(Self.ref), splicing: SplicedPayload(source: 4, count: 0))
        wire.drain(&q)
        #expect(wire.spliceCalls.isEmpty && q.takeFinishedSplices() == [])
        #expect(decodeAll(wire.bytes).results.compactMap(\.frame).map(\.payload) == [[]])
    }

    /// On a stream that takes a spliced frame's header with its payload, the two go in one call (one descriptor
    /// chain, one notification of the host), `writev` never gets that header, and control frames still go first.
    @Test func aHeaderGoesWithItsPayloadInOneCall() {
        var q = OutboundQueue()
        var wire = Wire()
        wire.pipes[7] = Array(0..<100)
        q.enqueue(.stdout(Self.ref), splicing: SplicedPayload(source: 7, count: 60))
        let head = q.byteCount - 60
        q.enqueue(.stderr(Self.ref), payload: [9, 9])
        q.enqueue(.window(WindowUpdate(session: 1, bytes: 10)))
        wire.drainWithHeads(&q)
        #expect(q.isEmpty && q.takeFinishedSplices() == [7])
        #expect(wire.frameCalls.map(\.head) == [head] && wire.frameCalls.map(\.payload) == [SplicedPayload(source: 7, count: 60)])
        #expect(wire.written == Frame(.window(WindowUpdate(session: 1, bytes: 10))).encoded().count
                + Frame(.stderr(Self.ref), payload: [9, 9]).encoded().count, "writev wrote only the other frames")
        let frames = decodeAll(wire.bytes).results.compactMap(\.frame)
        #expect(frames.map(\.message.type) == ["window", "stdout", "stderr"])
        #expect(frames[1].payload == Array(0..<60) && wire.pipes[7] == Array(60..<100))
    }

    /// A stream that took part of the header, then part of the payload: each later call gets exactly the rest,
    /// and a frame queued meanwhile waits behind it.
    @Test func aHeaderCutShortIsResumedWithItsPayload() {
        var (q, wire, head) = Self.oneSplicedFrame(of: 40_000, from: 3)
        wire.room = 5
        wire.drainWithHeads(&q)
        q.enqueue(.ping(Ping(id: 4)))
        wire.room = head - 5 + 10_000
        wire.drainWithHeads(&q)
        #expect(q.splicedBytes(from: 3) == 30_000 && q.takeFinishedSplices() == [])
        wire.room = .max
        wire.drainWithHeads(&q)
        #expect(q.isEmpty && q.takeFinishedSplices() == [3])
        #expect(wire.frameCalls.map(\.head) == [head, head - 5, 0])
        #expect(wire.frameCalls.map(\.payload.count) == [40_000, 40_000, 30_000])
        let frames = decodeAll(wire.bytes).results.compactMap(\.frame)
        #expect(frames.map(\.message.type) == ["stdout", "ping"])
        #expect(frames.first?.payload == Array(repeating: 5, count: 40_000))
    }

}
