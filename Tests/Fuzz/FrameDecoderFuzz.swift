// libFuzzer target for FrameDecoder and the message parser. Built by run-fuzz.sh with
// `swiftc -sanitize=fuzzer,address -parse-as-library` together with Sources/VsockProtocol/*.swift (one module,
// no SwiftPM), so there is no `import VsockProtocol`.
//
// Input layout: byte 0 picks the limits (default, or small so that "oversized" paths are reached with short
// inputs) and seeds the split sizes; the rest is the byte stream, fed to the decoder in chunks whose sizes are
// taken from the data itself. Every decoded frame is checked: payload only on stdio, and its message
// re-encodes to a header that decodes to the same message. Any violation traps (a finding).

/// Deterministic split sizes derived from the input (xorshift seeded by the input's first bytes).
private struct Splitter {
    var state: UInt32
    mutating func next(max: Int) -> Int {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        return Int(state % UInt32(max)) + 1
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let control = input.first else { return 0 }
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])

    let limits = control & 1 == 0 ? FrameLimits.default : FrameLimits(maxHeaderBytes: 512, maxPayloadBytes: 64)
    let maxChunk = [1, 3, 16, 4096][Int(control >> 1) & 3]
    var splitter = Splitter(state: UInt32(control) &* 2_654_435_761 | 1)
    var decoder = FrameDecoder(limits: limits)

    var offset = 0
    while offset < stream.count {
        let n = min(splitter.next(max: maxChunk), stream.count - offset)
        decoder.append(UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + n)]))
        offset += n
        while let result = decoder.next() { check(result, limits: limits) }
        // Nothing beyond one frame in progress is ever buffered.
        precondition(decoder.bufferedByteCount <= 8 + Int(limits.maxHeaderBytes) + Int(limits.maxPayloadBytes) + maxChunk)
    }

    // The message parser on its own, on the whole stream as a header.
    if stream.count <= Int(FrameLimits.default.maxHeaderBytes) {
        do {
            let message = try Message.decode(header: stream)
            precondition((try? Message.decode(header: message.encodedHeader())) == message, "unstable round trip")
        } catch {
            precondition([ErrorCode.malformedHeader, .invalidMessage, .unknownMessage].contains(error.code))
        }
    }
    return 0
}

private func check(_ result: DecodedFrame, limits: FrameLimits) {
    switch result {
    case .frame(let frame):
        precondition(frame.payload.isEmpty || frame.message.carriesPayload, "payload on \(frame.message.type)")
        precondition(frame.payload.count <= Int(limits.maxPayloadBytes))
        let again = try? Message.decode(header: frame.message.encodedHeader())
        precondition(again == frame.message, "unstable round trip: \(frame.message)")
        let reencoded = frame.encoded()
        var d = FrameDecoder(limits: .ceiling)
        d.append(reencoded)
        precondition(d.next() == .frame(frame), "re-encoded frame does not decode to itself")
    case .invalid(let error):
        precondition([ErrorCode.malformedHeader, .invalidMessage, .unknownMessage].contains(error.code), "\(error)")
        precondition(error.message.utf8.count < 1024, "unbounded error message")
    case .oversized(let error):
        precondition(error.code == .frameTooLarge, "\(error)")
    }
}
