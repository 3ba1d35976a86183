import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
import VsockTransport

/// Descriptors a peer passes (SCM_RIGHTS) on a connection that takes them (``FramedConnection/Options/descriptorLimit``):
/// queued oldest first, there by the time the frame sent with them is delivered, capped, and closed with the
/// connection; a connection that takes none lets the kernel drop them.
@Suite struct PassedDescriptorTests {
    private static func options(limit: Int) -> FramedConnection.Options {
        var options = FramedConnection.Options.supervisor
        options.descriptorLimit = limit
        return options
    }

    /// Whether the read side of `pipe` is still open anywhere (a write to a pipe without readers is EPIPE).
    private static func hasReader(_ writeEnd: FileDescriptor) -> Bool {
        SystemControl.ignoreSignal(SIGPIPE)
        return (try? writeEnd.writeAll([0])) != nil
    }

    @Test func theDescriptorIsThereWhenItsFrameIsDeliveredAndTheOldestIsClaimedFirst() throws {
        let pair = try Pair(state: nil, options: Self.options(limit: 2))
        var claimed: [UInt64: FileDescriptor] = [:]
        pair.connection.onFrame = { frame in
            pair.delivered.append(frame.message)
            // Frame 2 and 3 were sent with a descriptor each: each finds its own, oldest first.
            if case .ping(let p) = frame.message, p.id >= 2 { claimed[p.id] = pair.connection.takeDescriptor() }
        }
        var readEnds: [FileDescriptor] = []
        let writeEnds = try (0..<2).map { _ in
            let pipe = try Pipe()
            readEnds.append(pipe.readEnd)
            return pipe.writeEnd
        }
        defer { for fd in writeEnds { fd.close() } }
        // Frame 1 without a descriptor, written separately: the read that brings frame 2's descriptor may start
        // with frame 1's bytes.
        try pair.peer.fd.writeAll(Frame(.ping(Ping(id: 1))).encoded())
        for (n, readEnd) in readEnds.enumerated() {
            #expect(try sendWithDescriptors(pair.peer.fd, Frame(.ping(Ping(id: UInt64(n + 2)))).encoded(), [readEnd]) > 0)
            readEnd.close()
        }
        #expect(try pair.run(until: { pair.delivered.count == 3 }))
        #expect(claimed.count == 2)
        for (n, writeEnd) in writeEnds.enumerated() {
            let fd = try #require(claimed[UInt64(n + 2)])
            #expect(try fd.status().inode == writeEnd.status().inode, "frame \(n + 2) got another frame's descriptor")
            fd.close()
        }
        #expect(pair.connection.unclaimedDescriptors == 0)
    }

    /// Beyond the limit the newest are closed; a set the kernel truncated is closed whole; the unclaimed ones
    /// are closed with the connection.
    @Test func unclaimedDescriptorsAreCappedAndClosedWithTheConnection() throws {
        let pair = try Pair(state: nil, options: Self.options(limit: 2))
        // Four frames with one descriptor each, then one frame with twelve (more than a message may carry).
        var readEnds: [[FileDescriptor]] = []
        var writers: [FileDescriptor] = []
        for count in [1, 1, 1, 1, 12] {
            var group: [FileDescriptor] = []
            for _ in 0..<count {
                let pipe = try Pipe()
                try pipe.writeEnd.setNonBlocking()
                group.append(pipe.readEnd)
                writers.append(pipe.writeEnd)
            }
            readEnds.append(group)
        }
        defer { for fd in writers { fd.close() } }
        for (n, group) in readEnds.enumerated() {
            _ = try sendWithDescriptors(pair.peer.fd, Frame(.ping(Ping(id: UInt64(n)))).encoded(), group)
            for fd in group { fd.close() }
        }
        // Delivered once the frames were read: by then every descriptor sent with them came in too.
        #expect(try pair.run(until: { pair.delivered.count == 5 }))
        #expect(pair.connection.unclaimedDescriptors == 2)
        let open = writers.map(Self.hasReader)
        #expect(open == [true, true] + [Bool](repeating: false, count: 14), "\(open)")
        pair.connection.close()
        #expect(writers.allSatisfy { !Self.hasReader($0) })
    }

    /// Without a limit, reads are plain and the kernel closes whatever comes.
    @Test func aConnectionThatTakesNoneLetsTheKernelDropThem() throws {
        let pair = try Pair(state: nil)
        let pipe = try Pipe()
        try pipe.writeEnd.setNonBlocking()
        defer { pipe.writeEnd.close() }
        _ = try sendWithDescriptors(pair.peer.fd, Frame(.ping(Ping(id: 1))).encoded(), [pipe.readEnd])
        pipe.readEnd.close()
        #expect(try pair.run(until: { pair.delivered.count == 1 }))
        #expect(pair.connection.takeDescriptor() == nil)
        #expect(!Self.hasReader(pipe.writeEnd))
    }

    /// `sendNow(_:passing:until:)` writes what was queued first, then the frame with the descriptor on it.
    @Test func sendNowPassesTheDescriptorWithItsFrameAfterWhatWasQueued() throws {
        let loop = try EventLoop()
        let (ours, theirs) = try UnixSocket.socketPair()
        let sender = FramedConnection(fd: ours, loop: loop, label: "sender")
        let receiver = FramedConnection(fd: theirs, loop: loop, label: "receiver", options: Self.options(limit: 2))
        defer { sender.close(); receiver.close() }
        var got: [(Message, FileDescriptor?)] = []
        receiver.onFrame = { frame in
            let fd: FileDescriptor? = if case .exec = frame.message { receiver.takeDescriptor() } else { nil }
            got.append((frame.message, fd))
        }
        try sender.start()
        try receiver.start()
        let pipe = try Pipe()
        defer { pipe.close() }
        sender.send(.hello(Hello(role: .client)))
        let exec = ExecRequest(session: 1, argv: ["cat"], stdin: true, stdinDescriptor: true)
        try sender.sendNow(.exec(exec), passing: [pipe.readEnd], until: Clock.deadline(after: .seconds(5)))
        #expect(try runLoop(loop, until: { got.count == 2 }, timeout: .seconds(5)))
        #expect(got.map(\.0) == [.hello(Hello(role: .client)), .exec(exec)])
        let passed = try #require(got.last?.1)
        #expect(try passed.status().inode == pipe.readEnd.status().inode)
        passed.close()
    }
}
