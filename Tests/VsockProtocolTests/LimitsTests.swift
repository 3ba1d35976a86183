import Testing
@testable import VsockProtocol

@Suite("Limits")
struct LimitsTests {
    static func prefix(header: UInt32, payload: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        Frame.appendBigEndian(header, to: &bytes)
        Frame.appendBigEndian(payload, to: &bytes)
        return bytes
    }

    /// A frame declaring 4 GiB lengths is reported right after its 8-byte prefix, and its declared bytes
    /// (8 GiB here) are skipped as they arrive without ever being buffered; the next frame then decodes.
    @Test(arguments: [(UInt32.max, UInt32(0)), (UInt32(20), UInt32.max), (UInt32.max, UInt32.max)])
    func fourGiBFrameIsRejectedWithoutAllocating(header: UInt32, payload: UInt32) {
        var decoder = FrameDecoder()
        decoder.append(Self.prefix(header: header, payload: payload))
        let first = decoder.next()
        #expect(first?.isOversized == true)
        #expect(first?.error?.code == .frameTooLarge)
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.next() == nil, "reported once")

        let chunk = [UInt8](repeating: 0xEE, count: 4 << 20)
        var remaining = UInt64(header) + UInt64(payload)
        var maxBuffered = 0
        chunk.withUnsafeBytes { raw in
            while remaining > 0 {
                let n = Int(min(remaining, UInt64(raw.count)))
                decoder.append(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                remaining -= UInt64(n)
                maxBuffered = max(maxBuffered, decoder.bufferedByteCount)
                if decoder.next() != nil { Issue.record("skipped bytes produced a result"); return }
            }
        }
        #expect(maxBuffered == 0)
        let ping = Frame(.ping(Ping(id: 4)))
        decoder.append(ping.encoded())
        #expect(decoder.next() == .frame(ping))
    }

    /// The tail of an oversized frame and the next frame can arrive in the same read.
    @Test func skippedTailAndNextFrameInOneChunk() {
        let limits = FrameLimits(maxHeaderBytes: 64, maxPayloadBytes: 16)
        var decoder = FrameDecoder(limits: limits)
        decoder.append(Self.prefix(header: 10, payload: 1000) + [UInt8](repeating: 1, count: 300))
        #expect(decoder.next()?.error?.code == .frameTooLarge)
        #expect(decoder.bufferedByteCount == 0)
        let ping = Frame(.ping(Ping(id: 1)))
        decoder.append([UInt8](repeating: 2, count: 710) + ping.encoded() + ping.encoded())
        #expect(decoder.next() == .frame(ping))
        #expect(decoder.next() == .frame(ping))
        #expect(decoder.next() == nil)
    }

    /// An oversized frame that arrives whole, followed by more frames in the same buffer.
    @Test func oversizedFrameInsideABuffer() {
        let limits = FrameLimits(maxHeaderBytes: 64, maxPayloadBytes: 16)
        let ping = Frame(.ping(Ping(id: 1)))
        let big = Frame(.stdout(SessionRef(session: 1)), payload: [UInt8](repeating: 3, count: 17))
        let (results, decoder) = decodeAll(ping.encoded() + big.encoded() + ping.encoded(), limits: limits)
        #expect(results.count == 3)
        #expect(results[0] == .frame(ping))
        #expect(results[1].isOversized)
        #expect(results[2] == .frame(ping))
        #expect(decoder.bufferedByteCount == 0)
    }

    /// Exactly at the limits is accepted; one byte over either is refused.
    @Test func limitsAreInclusive() {
        let base = Array(#"{"id":1,"pad":"","type":"ping"}"#.utf8)
        let headerLimit = UInt32(base.count + 10)
        let limits = FrameLimits(maxHeaderBytes: headerLimit, maxPayloadBytes: 16)
        func ping(pad: Int) -> [UInt8] {
            let header = Array(#"{"id":1,"pad":"\#(String(repeating: "x", count: pad))","type":"ping"}"#.utf8)
            return Self.prefix(header: UInt32(header.count), payload: 0) + header
        }
        #expect(decodeAll(ping(pad: 10), limits: limits).results == [.frame(Frame(.ping(Ping(id: 1))))])
        #expect(decodeAll(ping(pad: 11), limits: limits).results.first?.isOversized == true)

        let atLimit = Frame(.stdin(SessionRef(session: 1)), payload: [UInt8](repeating: 0, count: 16))
        let overLimit = Frame(.stdin(SessionRef(session: 1)), payload: [UInt8](repeating: 0, count: 17))
        #expect(decodeAll(atLimit.encoded(), limits: limits).results == [.frame(atLimit)])
        #expect(decodeAll(overLimit.encoded(), limits: limits).results.first?.isOversized == true)
    }

    /// A header length of zero is a complete (if useless) frame: `malformed_header`, and framing continues.
    @Test func emptyHeaderIsMalformedNotFatal() {
        let ping = Frame(.ping(Ping(id: 2)))
        let (results, _) = decodeAll(Self.prefix(header: 0, payload: 0) + Self.prefix(header: 0, payload: 3) + [1, 2, 3]
                                     + ping.encoded())
        #expect(results.map { $0.error?.code } == [.malformedHeader, .malformedHeader, nil])
        #expect(results.last == .frame(ping))
    }

    @Test func constants() {
        #expect(FrameLimits.default == FrameLimits(maxHeaderBytes: 65_536, maxPayloadBytes: 1_048_576))
        #expect(FrameLimits.ceiling.maxHeaderBytes == 16 << 20 && FrameLimits.ceiling.maxPayloadBytes == 16 << 20)
        #expect(ProtocolConstants.prefixBytes == 8)
        #expect(ProtocolConstants.defaultVsockPort == 1024)
        #expect(ProtocolConstants.defaultWindow == 1 << 20)
        #expect(ProtocolConstants.version == 1)
    }
}

@Suite("Split input")
struct SplitInputTests {
    static let frames: [Frame] = {
        var rng = SplitMix64(seed: 21)
        return (0..<Samples.typeCount).map { Samples.randomFrame(&rng, typeIndex: $0, maxPayload: 40) }
    }()

    @Test func everyFrameOfAStreamFedOneByteAtATime() {
        let stream = Self.frames.flatMap { $0.encoded() }
        var rng = SplitMix64(seed: 0)
        let (results, decoder) = decodeAll(stream, chunkSize: { _ in 1 }, rng: &rng)
        #expect(results == Self.frames.map { .frame($0) })
        #expect(decoder.bufferedByteCount == 0)
    }

    /// Two frames, split at every byte position (and at every pair of positions).
    @Test func everySplitPointOfATwoFrameStream() {
        let a = Frame(.stdout(SessionRef(session: 1)), payload: Array("abc".utf8))
        let b = Frame(.exit(ExitReport(session: 1, status: ExitStatus(code: 0))))
        let stream = a.encoded() + b.encoded()
        let expected: [DecodedFrame] = [.frame(a), .frame(b)]
        for i in 0...stream.count {
            var decoder = FrameDecoder()
            var results: [DecodedFrame] = []
            decoder.append(stream[..<i])
            while let r = decoder.next() { results.append(r) }
            decoder.append(stream[i...])
            while let r = decoder.next() { results.append(r) }
            #expect(results == expected, "split at \(i)")
        }
        for i in 0...stream.count {
            for j in i...stream.count {
                var decoder = FrameDecoder()
                var results: [DecodedFrame] = []
                for part in [stream[..<i], stream[i..<j], stream[j...]] {
                    decoder.append(part)
                    while let r = decoder.next() { results.append(r) }
                }
                if results != expected { Issue.record("split at \(i), \(j): \(results)") }
            }
        }
    }

    /// A stream mixing valid, invalid and oversized frames decodes identically however it is chunked.
    @Test func chunkingNeverChangesTheResults() {
        let limits = FrameLimits(maxHeaderBytes: 4096, maxPayloadBytes: 64)
        var stream: [UInt8] = []
        for frame in Self.frames { stream += frame.encoded() }
        stream += LimitsTests.prefix(header: 5000, payload: 0) + [UInt8](repeating: 0x7B, count: 5000)
        stream += LimitsTests.prefix(header: 5, payload: 0) + Array("{bad}".utf8)
        stream += Frame(.ping(Ping(id: 1)), payload: [1]).encoded()
        stream += Frame(.stdout(SessionRef(session: 9)), payload: [UInt8](repeating: 5, count: 65)).encoded()
        stream += Self.frames.flatMap { $0.encoded() }
        let reference = decodeAll(stream, limits: limits).results
        #expect(reference.count == 2 * Self.frames.count + 4)
        #expect(reference.filter(\.isOversized).count == 2)
        #expect(reference.filter(\.isInvalid).count == 2)
        var rng = SplitMix64(seed: 99)
        for round in 0..<300 {
            let maxChunk = [1, 2, 3, 7, 64, 1000][round % 6]
            let (results, decoder) = decodeAll(stream, limits: limits, chunkSize: { $0.below(maxChunk) + 1 }, rng: &rng)
            if results != reference { Issue.record("round \(round) differs"); return }
            #expect(decoder.bufferedByteCount == 0)
        }
    }
}
