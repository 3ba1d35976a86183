// Shared helpers for the Swift fuzz targets that drive real handlers over a socketpair. Compiled into each
// target's module by build-fuzz.sh (one module per target, no SwiftPM).
import Glibc
import LinuxSystem
import VsockProtocol

/// Deterministic chunk sizes derived from the input (xorshift seeded by its first byte).
struct FuzzSplitter {
    var state: UInt32
    init(seed: UInt8) { state = UInt32(seed) &* 2_654_435_761 | 1 }
    mutating func next(max: Int) -> Int {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        return Int(state % UInt32(max)) + 1
    }
}

/// A non-blocking AF_UNIX stream socketpair: [0] for the code under test, [1] for the fuzzer.
func fuzzSocketPair() -> (FileDescriptor, FileDescriptor) {
    do { return try UnixSocket.socketPair(nonBlocking: true) } catch {
        fatalError("\(error)")  // environment failure, not a finding
    }
}

/// Writes all of `bytes` to a non-blocking socket whose peer is drained by `drain` when it is full.
func fuzzWriteAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, drain: () -> Void) {
    var offset = 0
    while offset < bytes.count {
        switch try? fd.writeSome(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
        case .processed(let n): offset += n
        case .wouldBlock: drain()
        case nil: return  // peer closed: the code under test dropped the connection
        }
    }
}

/// Reads everything currently readable from `fd` and checks it is a well-formed frame stream. Any violation traps
/// (a finding).
///
/// The framing (lengths within our limits, whole frames) is checked for every input. Decoding each header's JSON
/// and checking its message against `allowed` costs as much as the rest of an input put together, and the
/// headers are our own encoder's output, so that deeper check runs on one input in four: those whose control
/// byte has bits 3 and 4 clear (bits no target uses for anything but seeding its splitter). Deterministic, so a
/// finding replays.
struct FuzzOutputChecker {
    let fullCheck: Bool
    let buffer = ReadBuffer(capacity: 64 * 1024)
    var decoder = FrameDecoder(limits: .ceiling)
    var pending: [UInt8] = []
    var frames = 0

    init(control: UInt8) { fullCheck = (control >> 3) & 3 == 0 }

    mutating func drain(_ fd: FileDescriptor, allowed: (Message) -> Bool) {
        while true {
            guard let n = try? buffer.read(from: fd), n > 0 else { break }
            if fullCheck { decodeAll(buffer.prefix(n), allowed: allowed) } else { splitFrames(buffer.prefix(n)) }
        }
    }

    private mutating func decodeAll(_ bytes: UnsafeRawBufferPointer, allowed: (Message) -> Bool) {
        decoder.append(bytes)
        while let item = decoder.next() {
            guard case .frame(let frame) = item else { preconditionFailure("peer wrote a bad frame: \(item)") }
            precondition(allowed(frame.message), "peer must not send \(frame.message.type)")
            precondition(frame.payload.count <= Int(FrameLimits.default.maxPayloadBytes), "payload over our limit")
            frames += 1
        }
    }

    private mutating func splitFrames(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
        var offset = 0
        while pending.count - offset >= 8 {
            let headerLength = Self.bigEndian(pending, offset)
            let payloadLength = Self.bigEndian(pending, offset + 4)
            precondition(headerLength > 0 && headerLength <= Int(FrameLimits.default.maxHeaderBytes), "header length \(headerLength)")
            precondition(payloadLength <= Int(FrameLimits.default.maxPayloadBytes), "payload over our limit")
            guard pending.count - offset >= 8 + headerLength + payloadLength else { break }
            offset += 8 + headerLength + payloadLength
            frames += 1
        }
        pending.removeFirst(offset)
    }

    private static func bigEndian(_ bytes: [UInt8], _ at: Int) -> Int {
        Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
    }
}

/// One-time process setup: no SIGPIPE, enough descriptors.
func fuzzProcessSetup() {
    SystemControl.ignoreSignal(SIGPIPE)
    _ = try? ResourceLimits.raiseOpenFilesToMaximum()
}
