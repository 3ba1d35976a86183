import Glibc
import LinuxSystem
import Testing
import VsockProtocol
import VsockTransport

/// Payloads the kernel moves from a pipe to the connection (`FramedConnection.send(_:splicing:from:)`).
@Suite struct SpliceTests {
    /// Reads everything the peer has until `count` bytes came (or the loop gives up).
    static func collect(_ pair: Pair, count: Int) throws -> [UInt8] {
        try pair.peer.fd.setNonBlocking()
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        try pair.run(until: {
            while let n = buffer.withUnsafeMutableBytes({ try? pair.peer.fd.read(into: $0) }) ?? nil, n > 0 { got += buffer[..<n] }
            return got.count >= count || pair.closed > 0
        })
        return got
    }

    /// vm-init's options, splicing straight from the source pipe or (as on a virtio-serial port) through the
    /// connection's staging pipe.
    static func options(staged: Bool) -> FramedConnection.Options {
        var options = FramedConnection.Options.vmInit
        options.stagesSplices = staged
        return options
    }

    /// Two spliced frames larger than the socket's buffer (so splices come back short and resume), with a
    /// copied frame between them: the peer gets exactly the frames, each payload the pipe's bytes in order,
    /// the pipe keeps what no header announced (staging takes no more than the frame owes), and each finished
    /// splice is reported once with its source.
    @Test(arguments: [false, true])
    func splicedPayloadsArriveWholeInOrderAndAreReported(staged: Bool) throws {
        let pair = try Pair(state: nil, options: Self.options(staged: staged))
        let pipe = try Pipe()
        defer { pipe.readEnd.close(); pipe.writeEnd.close() }
        _ = try pipe.writeEnd.setPipeCapacity(1 << 20)
        let bytes = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 / 7) }
        try pipe.writeEnd.writeAll(bytes)
        var reported: [FileDescriptor] = []
        pair.connection.onSpliced = { reported.append($0) }

        pair.connection.send(.stdout(SessionRef(session: 1)), splicing: 400_000, from: pipe.readEnd)
        pair.connection.send(.stderr(SessionRef(session: 2)), payload: [7, 7, 7])
        pair.connection.send(.stdout(SessionRef(session: 1)), splicing: 250_000, from: pipe.readEnd)
        #expect(pair.connection.splicedBytesQueued(from: pipe.readEnd) == 650_000)

        let expected = Frame(.stdout(SessionRef(session: 1)), payload: Array(bytes[0..<400_000])).encoded()
            + Frame(.stderr(SessionRef(session: 2)), payload: [7, 7, 7]).encoded()
            + Frame(.stdout(SessionRef(session: 1)), payload: Array(bytes[400_000..<650_000])).encoded()
        let got = try Self.collect(pair, count: expected.count)
        #expect(got.count == expected.count)
        #expect(got == expected)
        #expect(reported == [pipe.readEnd, pipe.readEnd])
        #expect(pair.connection.splicedBytesQueued(from: pipe.readEnd) == 0 && pair.connection.queuedBytes == 0)
        #expect(try pipe.readEnd.bytesAvailable() == 50_000)
        #expect(pair.closed == 0)
    }

    /// A pipe that holds less than its frame announced can never complete the frame: the connection closes
    /// with an error that says so, instead of waiting forever or sending a short frame followed by other bytes.
    @Test(arguments: [true, false], [false, true])
    func aPipeThatRunsDryClosesTheConnection(writerGone: Bool, staged: Bool) throws {
        let pair = try Pair(state: nil, options: Self.options(staged: staged))
        let pipe = try Pipe()
        defer { pipe.readEnd.close(); if !writerGone { pipe.writeEnd.close() } }
        try pipe.writeEnd.writeAll([1, 2, 3])
        if writerGone { pipe.writeEnd.close() }
        pair.connection.send(.stdout(SessionRef(session: 1)), splicing: 100, from: pipe.readEnd)
        #expect(try pair.run(until: { pair.closed > 0 }))
        #expect(pair.closeError?.errno == EPIPE)
        #expect(pair.closeError.map { "\($0)" }?.contains("ran dry") == true)
    }
}
