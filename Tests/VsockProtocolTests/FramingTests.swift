import Foundation
import Testing
@testable import VsockProtocol

@Suite("Framing")
struct FramingTests {
    @Test func prefixIsTwoBigEndianLengthsThenHeaderThenPayload() throws {
        let payload: [UInt8] = Array(repeating: 0xAB, count: 0x0102)
        let bytes = Frame(.stdout(SessionRef(session: 7)), payload: payload).encoded()
        let header = Array(#"{"session":7,"type":"stdout"}"#.utf8)
        #expect(Array(bytes[0..<4]) == [0, 0, 0, UInt8(header.count)])
        #expect(Array(bytes[4..<8]) == [0, 0, 0x01, 0x02])
        #expect(Array(bytes[8..<(8 + header.count)]) == header)
        #expect(Array(bytes[(8 + header.count)...]) == payload)
        #expect(bytes.count == ProtocolConstants.prefixBytes + header.count + payload.count)
    }

    @Test func encodeAppendsToAnExistingBuffer() {
        var buffer: [UInt8] = [1, 2, 3]
        let a = Frame(.ping(Ping(id: 1)))
        let b = Frame(.stdin(SessionRef(session: 2)), payload: [9, 9])
        Frame.encode(a.message, into: &buffer)
        [UInt8](b.payload).withUnsafeBytes { Frame.encode(b.message, payload: $0, into: &buffer) }
        #expect(buffer == [1, 2, 3] + a.encoded() + b.encoded())
    }

    @Test func headerKeysAreSortedAndCompact() {
        let header = String(decoding: Message.exit(ExitReport(session: 3, status: ExitStatus(code: 1))).encodedHeader(),
                            as: UTF8.self)
        #expect(header == #"{"code":1,"core_dumped":false,"oom_killed":false,"output_truncated":false,"session":3,"status":1,"type":"exit"}"#)
        #expect(String(decoding: Message.exec(ExecRequest(session: 1, argv: ["/a/b"])).encodedHeader(), as: UTF8.self)
                == #"{"argv":["/a/b"],"session":1,"type":"exec"}"#, "slashes are not escaped")
    }

    @Test func decoderWaitsForACompletePrefixHeaderAndPayload() {
        let bytes = Frame(.stderr(SessionRef(session: 1)), payload: [1, 2, 3]).encoded()
        var decoder = FrameDecoder()
        #expect(decoder.next() == nil)
        for (i, byte) in bytes.enumerated() {
            #expect(decoder.next() == nil)
            #expect(decoder.bufferedByteCount == i)
            decoder.append([byte])
        }
        #expect(decoder.next() == .frame(Frame(.stderr(SessionRef(session: 1)), payload: [1, 2, 3])))
        #expect(decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func severalFramesInOneAppendComeOutInOrder() {
        var frames: [Frame] = []
        for i in 0..<50 {
            if i % 2 == 0 {
                frames.append(Frame(.ping(Ping(id: UInt64(i)))))
            } else {
                frames.append(Frame(.stdout(SessionRef(session: UInt32(i))), payload: [UInt8(i)]))
            }
        }
        let (results, decoder) = decodeAll(frames.flatMap { $0.encoded() })
        #expect(results == frames.map { .frame($0) })
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func appendAcceptsRawBuffersAndSequences() {
        let bytes = Frame(.ping(Ping(id: 5))).encoded()
        var a = FrameDecoder()
        bytes.withUnsafeBytes { a.append($0) }
        var b = FrameDecoder()
        b.append(bytes[...])
        var c = FrameDecoder()
        c.append(bytes.lazy.map { $0 })
        #expect(a.next() == .frame(Frame(.ping(Ping(id: 5)))))
        #expect(b.next() == .frame(Frame(.ping(Ping(id: 5)))))
        #expect(c.next() == .frame(Frame(.ping(Ping(id: 5)))))
    }

    @Test func largestLegalPayloadDecodes() {
        let payload = [UInt8](repeating: 7, count: Int(FrameLimits.default.maxPayloadBytes))
        let frame = Frame(.stdout(SessionRef(session: 1)), payload: payload)
        let (results, _) = decodeAll(frame.encoded())
        #expect(results == [.frame(frame)])
    }

    @Test func decoderBufferDoesNotGrowAcrossManyFrames() {
        var decoder = FrameDecoder()
        let frame = Frame(.stdout(SessionRef(session: 1)), payload: [UInt8](repeating: 1, count: 1000))
        let bytes = frame.encoded()
        var maxBuffered = 0
        for i in 0..<2000 {
            // Feed 1.5 frames at a time so a partial frame is always left behind.
            decoder.append(i % 2 == 0 ? bytes + bytes[0..<(bytes.count / 2)] : Array(bytes[(bytes.count / 2)...]))
            while let r = decoder.next() { #expect(r == .frame(frame)) }
            maxBuffered = max(maxBuffered, decoder.bufferedByteCount)
        }
        #expect(maxBuffered < bytes.count)
        #expect(decoder.bufferedByteCount == 0)
    }

    /// Large payloads are collected into their own array as they arrive; whatever the split (a byte at a time,
    /// random, a frame and a half), the frames are the same, and buffered bytes count that array.
    @Test func largePayloadsDecodeTheSameInAnySplit() {
        var rng = SplitMix64(seed: 21)
        var frames: [Frame] = []
        for i in 0..<40 {
            let size = i % 3 == 0 ? FrameDecoder.directPayloadThreshold + rng.below(200_000) : rng.below(100)
            frames.append(Frame(.stdin(SessionRef(session: UInt32(i))), payload: rng.bytes(size)))
            if i % 5 == 0 { frames.append(Frame(.ping(Ping(id: UInt64(i))))) }
        }
        let bytes = frames.flatMap { $0.encoded() }
        let expected = frames.map { DecodedFrame.frame($0) }
        #expect(decodeAll(bytes).results == expected)
        for seed in 1...4 {
            var r = SplitMix64(seed: UInt64(seed))
            let (results, decoder) = decodeAll(bytes, chunkSize: { $0.below(seed * 70_000) + 1 }, rng: &r)
            #expect(results == expected)
            #expect(decoder.bufferedByteCount == 0)
        }
        let big = Frame(.stdout(SessionRef(session: 1)), payload: rng.bytes(FrameDecoder.directPayloadThreshold)).encoded()
        var decoder = FrameDecoder()
        for (i, byte) in big.enumerated() {
            #expect(decoder.bufferedByteCount == i)
            #expect(decoder.next() == nil)
            decoder.append([byte])
        }
        #expect(decoder.next() == .frame(Frame(.stdout(SessionRef(session: 1)), payload: Array(big[(big.count - FrameDecoder.directPayloadThreshold)...]))))
    }

    /// `receive(spare:)` (the readv path): a large payload's rest is offered as the first buffer, so it is
    /// written where the frame keeps it; bytes past it land in the spare buffer. Whatever the read sizes, the
    /// frames are the same as with `append`, and a `nil` read changes nothing.
    @Test func receiveIntoThePayloadDecodesTheSameAsAppend() {
        var rng = SplitMix64(seed: 77)
        var frames: [Frame] = []
        for i in 0..<30 {
            let size = i % 2 == 0 ? FrameDecoder.directPayloadThreshold + rng.below(300_000) : rng.below(3000)
            frames.append(Frame(.stdout(SessionRef(session: UInt32(i + 1))), payload: rng.bytes(size)))
            if i % 4 == 0 { frames.append(Frame(.window(WindowUpdate(session: 1, bytes: UInt32(i + 1))))) }
        }
        let stream = frames.flatMap { $0.encoded() }
        let spare = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { spare.deallocate() }
        for seed in 1...4 {
            var r = SplitMix64(seed: UInt64(seed))
            var decoder = FrameDecoder()
            var offset = 0
            var results: [DecodedFrame] = []
            var sawPayloadBuffer = false
            while offset < stream.count {
                if r.below(7) == 0 {
                    #expect(decoder.receive(spare: spare) { _ in nil } == nil)  // EAGAIN
                    continue
                }
                let limit = r.below(seed * 90_000) + 1
                let n = decoder.receive(spare: spare) { buffers in
                    sawPayloadBuffer = sawPayloadBuffer || buffers.count == 2
                    #expect((buffers.last?.count ?? 0) <= spare.count)
                    var copied = 0
                    for buffer in buffers where copied < limit && offset + copied < stream.count {
                        let take = min(buffer.count, limit - copied, stream.count - offset - copied)
                        stream.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[(offset + copied)...].prefix(take))) }
                        copied += take
                        if take < buffer.count { break }
                    }
                    return copied
                }
                offset += n ?? 0
                while let item = decoder.next() { results.append(item) }
            }
            #expect(results == frames.map { .frame($0) })
            #expect(decoder.bufferedByteCount == 0)
            #expect(sawPayloadBuffer)
        }
    }

    /// A run of large frames read as fast as the socket allows: after the first frame, every read offers the
    /// rest of the payload being collected and at most ``FrameDecoder/lookaheadBytes`` of the spare buffer, so
    /// payload bytes are written where the frame keeps them and only the bytes that come with a head are copied.
    @Test func aRunOfLargeFramesIsReadIntoThePayloadsNotTheSpareBuffer() {
        var rng = SplitMix64(seed: 5)
        let frames = (0..<12).map { i in
            Frame(.stdin(SessionRef(session: 1)), payload: rng.bytes(200_000 + i * 7919))
        }
        let stream = frames.flatMap { $0.encoded() }
        let spare = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { spare.deallocate() }
        var decoder = FrameDecoder()
        var offset = 0
        var results: [Frame] = []
        var spareBytes: [Int] = []  // per read: bytes that landed in the spare buffer
        while offset < stream.count {
            let n = decoder.receive(spare: spare) { buffers in
                var copied = 0
                var intoSpare = 0
                for (index, buffer) in buffers.enumerated() {
                    let take = min(buffer.count, stream.count - offset - copied)
                    stream.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[(offset + copied)...].prefix(take))) }
                    copied += take
                    if index == buffers.count - 1 { intoSpare = take }
                }
                spareBytes.append(intoSpare)
                return copied
            } ?? 0
            offset += n
            while case .frame(let frame)? = decoder.next() { results.append(frame) }
        }
        #expect(results == frames)
        #expect(spareBytes.first == spare.count)  // nothing known yet: the whole spare buffer
        #expect(spareBytes.dropFirst().allSatisfy { $0 <= FrameDecoder.lookaheadBytes })
        #expect(spareBytes.count <= frames.count + 2)  // about one read per frame
    }

    /// An oversized frame right after a large one is still reported and skipped.
    @Test func oversizedFrameAfterALargePayloadIsSkipped() {
        let limits = FrameLimits(maxHeaderBytes: 1024, maxPayloadBytes: 64 * 1024)
        let large = Frame(.stdout(SessionRef(session: 1)), payload: [UInt8](repeating: 3, count: 40_000))
        let tooBig = Frame(.stdout(SessionRef(session: 1)), payload: [UInt8](repeating: 4, count: 70_000))
        let after = Frame(.ping(Ping(id: 2)))
        var rng = SplitMix64(seed: 3)
        let (results, _) = decodeAll(large.encoded() + tooBig.encoded() + after.encoded(), limits: limits,
                                     chunkSize: { $0.below(9000) + 1 }, rng: &rng)
        #expect(results.count == 3)
        #expect(results.first == .frame(large))
        #expect(results.dropFirst().first?.error?.code == .frameTooLarge)
        #expect(results.last == .frame(after))
    }
}
