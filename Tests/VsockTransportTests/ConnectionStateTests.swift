import Glibc
import LinuxSystem
import Testing
import VsockProtocol
import VsockTransport

/// PROTOCOL.md §7 as FramedConnection enforces it (vm-init's side: own role guest, peer host).
@Suite struct ConnectionStateEnforcementTests {
    @Test func messagesBeforeHelloAreRefusedAndNotDelivered() throws {
        let pair = try Pair(state: ConnectionState(ownRole: .guest))
        try pair.peer.send(.ping(Ping(id: 7)))
        try pair.peer.send(.exec(ExecRequest(session: 1, argv: ["true"])))
        #expect(try pair.peerReceive().errorCode == .invalidState)
        #expect(try pair.peerReceive().errorCode == .invalidState)
        #expect(pair.delivered.isEmpty)
        #expect(pair.refused == [.invalidState, .invalidState])

        try pair.peer.send(.hello(Hello(role: .host)))
        try pair.peer.send(.ping(Ping(id: 8)))
        #expect(try pair.run(until: { pair.delivered.count == 2 }))
        guard case .hello = pair.delivered[0], case .ping(let p) = pair.delivered[1] else {
            Issue.record("delivered \(pair.delivered)")
            return
        }
        #expect(p.id == 8)
        #expect(pair.closed == 0)
    }

    @Test func wrongRoleIsAnsweredThenClosed() throws {
        let pair = try Pair(state: ConnectionState(ownRole: .guest))
        try pair.peer.send(.hello(Hello(role: .client)))
        try pair.peer.send(.ping(Ping(id: 1)))
        #expect(try pair.peerReceive().errorCode == .invalidState)
        #expect(try pair.run(until: { pair.closed == 1 }))
        #expect(pair.closeError == nil)
        #expect(pair.delivered.isEmpty)
        // Nothing else was written (not even a pong), then end of stream.
        #expect(throws: TransportError.self) { try pair.peer.receive(timeout: .seconds(2)) }
    }

    @Test func unsupportedVersionIsAnsweredThenClosed() throws {
        let pair = try Pair(state: ConnectionState(ownRole: .host))
        try pair.peer.send(.hello(Hello(version: ProtocolConstants.version + 1, role: .guest)))
        #expect(try pair.peerReceive().errorCode == .unsupportedVersion)
        #expect(try pair.run(until: { pair.closed == 1 }))
        #expect(pair.delivered.isEmpty)
        do {
            _ = try pair.peer.receive(timeout: .seconds(2))
            Issue.record("expected end of stream")
        } catch {
            #expect(error.code == .closed)
        }
    }

    @Test func secondHelloIsRefusedAndTheConnectionStaysOpen() throws {
        let pair = try Pair(state: ConnectionState(ownRole: .supervisor))
        try pair.peer.send(.hello(Hello(role: .client)))
        try pair.peer.send(.hello(Hello(role: .client)))
        #expect(try pair.peerReceive().errorCode == .invalidState)
        try pair.peer.send(.ping(Ping(id: 3)))
        #expect(try pair.run(until: { pair.delivered.count == 2 }))
        #expect(pair.connection.peerHello?.role == .client)
        #expect(pair.closed == 0)
    }

    @Test func withoutAStateEverythingIsDelivered() throws {
        let pair = try Pair(state: nil)
        try pair.peer.send(.ping(Ping(id: 1)))
        #expect(try pair.run(until: { pair.delivered.count == 1 }))
        #expect(pair.refused.isEmpty)
    }
}

@Suite struct FramedConnectionTests {
    /// A peer that never reads while we keep queueing: closed once the cap is passed, with a clear error.
    @Test func aPeerThatNeverReadsIsDroppedAtTheQueueCap() throws {
        let pair = try Pair(state: nil, options: FramedConnection.Options(readBudget: 4, maxQueuedBytes: 1 << 20))
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var sent = 0
        func flood() {
            guard pair.closed == 0, sent < 64 << 20 else { return }
            for _ in 0..<8 { pair.connection.send(.stdout(SessionRef(session: 1)), payload: chunk); sent += chunk.count }
            pair.loop.post { flood() }
        }
        flood()
        #expect(try pair.run(until: { pair.closed == 1 }, timeout: .seconds(10)))
        #expect(pair.closeError?.errno == ENOBUFS)
        #expect(pair.closeError?.message.contains("not reading") == true)
        #expect(sent < 8 << 20, "closed only after \(sent) bytes")
    }

    /// vm-init's last flush before power-off waits for a slow host but never past its deadline, so a host that
    /// stopped reading cannot hold PID 1 forever.
    @Test func finalFlushGivesUpAtItsDeadlineWhenThePeerDoesNotRead() throws {
        let pair = try Pair(state: nil, options: .vmInit)
        let chunk = [UInt8](repeating: 0x62, count: 1 << 20)
        for _ in 0..<8 { pair.connection.send(.stdout(SessionRef(session: 1)), payload: chunk) }
        let started = ContinuousClock.now
        #expect(!pair.connection.flush(until: Clock.deadline(after: .milliseconds(300))))
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(250) && waited < .seconds(3), "waited \(waited)")
        #expect(pair.connection.queuedBytes > 0)
    }

    /// Frames queued in one loop turn go out together, control before bulk, and `onDrained` fires once the
    /// queue falls below the threshold.
    @Test func queuedFramesFlushAtTheEndOfTheTurnAndReportDraining() throws {
        var options = FramedConnection.Options.vmInit
        options.drainedThreshold = 128 * 1024
        let pair = try Pair(state: nil, options: options)
        var drained = 0
        pair.connection.onDrained = { drained += 1 }
        let big = [UInt8](repeating: 1, count: 256 * 1024)
        pair.connection.send(.stdout(SessionRef(session: 1)), payload: big)
        pair.connection.send(.ping(Ping(id: 1)))
        #expect(pair.connection.queuedBytes > big.count)
        // Control before bulk: the ping's frame is the first thing on the wire.
        let ping = Frame(.ping(Ping(id: 1))).encoded()
        var head: [UInt8] = []
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        try pair.peer.fd.setNonBlocking()
        // The peer reads whatever is there each turn, so the connection can keep writing.
        #expect(try pair.run(until: {
            while let n = buffer.withUnsafeMutableBytes({ try? pair.peer.fd.read(into: $0) }) ?? nil, n > 0 {
                if head.count < ping.count { head += buffer[..<min(n, ping.count - head.count)] }
                total += n
            }
            return drained == 1 && pair.connection.queuedBytes == 0
        }))
        #expect(head == ping)
        #expect(total == ping.count + Frame(.stdout(SessionRef(session: 1)), payload: big).encoded().count)
    }

    @Test func closeWhenFlushedWritesEverythingFirst() throws {
        let pair = try Pair(state: nil)
        for i in 0..<100 { pair.connection.send(.ping(Ping(id: UInt64(i)))) }
        pair.connection.closeWhenFlushed()
        pair.connection.send(.ping(Ping(id: 1000)))  // dropped: the connection is closing
        var ids: [UInt64] = []
        while true {
            guard let frame = try? pair.peerReceive(), case .ping(let p) = frame else { break }
            ids.append(p.id)
        }
        #expect(ids == Array(0..<100))
        #expect(pair.closed == 1)
    }

    @Test func initialBytesAreDecodedFirst() throws {
        let loop = try EventLoop()
        let (ours, theirs) = try UnixSocket.socketPair()
        defer { theirs.close() }
        let connection = FramedConnection(fd: ours, loop: loop, label: "test")
        var got: [Message] = []
        connection.onFrame = { got.append($0.message) }
        try connection.start(initialBytes: Frame(.ping(Ping(id: 5))).encoded())
        #expect(try runLoop(loop, until: { got.count == 1 }, timeout: .seconds(5)))
        #expect(got == [.ping(Ping(id: 5))])
        connection.close()
    }
}
