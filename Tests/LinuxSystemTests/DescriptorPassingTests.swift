import Glibc
import LinuxSystem
import TestSupport
import Testing

/// Descriptors passed over AF_UNIX streams (SCM_RIGHTS) and reads that never wait on a blocking pipe: what the
/// exec client's stdin hand-over to the supervisor rests on (PROTOCOL.md §11, `stdin_descriptor`).
@Suite struct DescriptorPassingTests {
    /// An empty pipe whose read end is blocking answers "nothing now" instead of blocking, and its flags are
    /// left as they were.
    @Test func readWithoutWaitingOnABlockingPipe() throws {
        #expect(Pipe.honoursReadsWithoutWaiting, "this kernel's pipes should honour RWF_NOWAIT (Linux 5.8+)")
        let pipe = try Pipe()
        defer { pipe.readEnd.close() }
        var buffer = [UInt8](repeating: 0, count: 16)
        func read() throws -> IOResult<Int> {
            try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.readWithoutWaiting(into: raw) }
        }
        #expect(try read() == .wouldBlock)
        try pipe.writeEnd.writeAll(Array("abc".utf8))
        #expect(try read() == .processed(3))
        #expect(buffer.prefix(3) == Array("abc".utf8)[...])
        #expect(try read() == .wouldBlock)
        #expect(try pipe.readEnd.isNonBlocking() == false)
        pipe.writeEnd.close()
        #expect(try read() == .processed(0))
    }

    /// The descriptor arrives with the bytes it was sent with, close-on-exec, and refers to the same pipe.
    @Test func aPassedDescriptorArrivesWithItsBytes() throws {
        let (a, b) = try UnixSocket.socketPair()
        defer { a.close(); b.close() }
        let pipe = try Pipe()
        defer { pipe.writeEnd.close() }
        let sent = try Array("hello".utf8).withUnsafeBytes { (raw) throws(SystemError) in
            try UnixSocket.send(raw, passing: [pipe.readEnd], over: a)
        }
        #expect(sent == .processed(5))
        pipe.readEnd.close()  // the one in flight keeps the pipe's read side open
        var descriptors: [FileDescriptor] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        let got = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in
            try UnixSocket.receive(b, into: [raw], descriptors: &descriptors)
        }
        #expect(got.count == 5 && got.descriptors == 1 && !got.truncated)
        #expect(buffer.prefix(5) == Array("hello".utf8)[...])
        let received = try #require(descriptors.first)
        defer { received.close() }
        #expect(fcntl(received.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        #expect(try received.status().inode == pipe.writeEnd.status().inode)
        try pipe.writeEnd.writeAll([42])
        var byte: UInt8 = 0
        let one = try withUnsafeMutableBytes(of: &byte) { (raw) throws(SystemError) in try received.readSome(into: raw) }
        #expect(one == .processed(1))
        #expect(byte == 42)
    }

    /// More descriptors than one message may carry: the kernel closes the rest and says so; a plain read
    /// (no control buffer) makes the kernel close all of them.
    @Test func tooManyDescriptorsAreTruncatedAndPlainReadsDropThem() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let (a, b) = try UnixSocket.socketPair()
        defer { a.close(); b.close() }
        let pipes = try (0..<12).map { _ in try Pipe() }
        defer { for pipe in pipes { pipe.writeEnd.close() } }
        #expect(try sendWithDescriptors(a, [1], pipes.map(\.readEnd)) == 1)
        for pipe in pipes { pipe.readEnd.close() }
        var descriptors: [FileDescriptor] = []
        var buffer = [UInt8](repeating: 0, count: 8)
        let got = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in
            try UnixSocket.receive(b, into: [raw], descriptors: &descriptors)
        }
        #expect(got.count == 1 && got.truncated)
        #expect(got.descriptors == UnixSocket.maxDescriptorsPerMessage && descriptors.count == got.descriptors)
        for fd in descriptors { fd.close() }
        // Every read side is gone now: the kernel closed the ones that did not fit.
        for pipe in pipes { #expect(throws: SystemError.self) { try pipe.writeEnd.writeAll([0]) } }

        let other = try Pipe()
        defer { other.writeEnd.close() }
        #expect(try sendWithDescriptors(a, [2], [other.readEnd]) == 1)
        other.readEnd.close()
        #expect(try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try b.readSome(into: raw) } == .processed(1))
        #expect(throws: SystemError.self) { try other.writeEnd.writeAll([0]) }
    }
}
