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
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                     0, &fds) == 0 else {
        fatalError("socketpair: errno \(errno)")  // environment failure, not a finding
    }
    return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
}

/// Writes all of `bytes` to a non-blocking socket whose peer is drained by `drain` when it is full.
func fuzzWriteAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, drain: () -> Void) {
    var offset = 0
    while offset < bytes.count {
        let n = Glibc.write(fd.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
        if n > 0 { offset += n; continue }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { drain(); continue }
        return  // peer closed: the code under test dropped the connection
    }
}

/// Reads everything currently readable from `fd` and checks it is a well-formed frame stream whose messages
/// all satisfy `allowed`. Any violation traps (a finding).
struct FuzzOutputChecker {
    var decoder = FrameDecoder(limits: .ceiling)
    let buffer = ReadBuffer(capacity: 64 * 1024)
    var frames = 0

    mutating func drain(_ fd: FileDescriptor, allowed: (Message) -> Bool) {
        while true {
            guard let n = try? buffer.read(from: fd), n > 0 else { break }
            decoder.append(buffer.prefix(n))
            while let item = decoder.next() {
                guard case .frame(let frame) = item else { preconditionFailure("peer wrote a bad frame: \(item)") }
                precondition(allowed(frame.message), "peer must not send \(frame.message.type)")
                precondition(frame.payload.count <= Int(FrameLimits.default.maxPayloadBytes), "payload over our limit")
                frames += 1
            }
        }
    }
}

/// One-time process setup: no SIGPIPE, enough descriptors.
func fuzzProcessSetup() {
    signal(SIGPIPE, SIG_IGN)
    var limit = rlimit()
    if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
