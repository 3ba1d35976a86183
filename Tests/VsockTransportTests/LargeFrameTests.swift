import Glibc
import LinuxSystem
import Testing
import VsockProtocol
@testable import VsockTransport

/// The bulk path: large payloads are read with `readv` straight into their frame's array, and on a serial port
/// reads and writes are offered in the driver's buffer sizes. Whatever the options, the bytes are the same.
@Suite struct LargeFrameTests {
    /// Frames of many sizes from a peer that writes in odd pieces arrive whole and in order.
    @Test(arguments: [false, true])
    func largeFramesArriveWholeWhateverTheReadShape(serial: Bool) throws {
        let options = serial ? FramedConnection.Options.vmInit.forSerialPort() : .vmInit
        let pair = try Pair(state: nil, options: options)
        var frames: [Frame] = []
        var seed: UInt64 = 5
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        for i in 0..<24 {
            let size = i % 3 == 0 ? Int(next() % 100) : 16 * 1024 + Int(next() % 600_000)
            frames.append(Frame(.stdout(SessionRef(session: UInt32(i + 1))), payload: (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ i) }))
        }
        let stream = frames.flatMap { $0.encoded() }
        var received: [Frame] = []
        pair.connection.onFrame = { received.append($0) }
        // The peer writes from a thread in pieces of changing size, so reads end at every kind of boundary.
        let writer = try ThreadedWriter(fd: pair.peer.fd, bytes: stream)
        #expect(try pair.run(until: { received.count == frames.count }, timeout: .seconds(20)))
        writer.join()
        #expect(received == frames)
    }

    /// What the connection sends on a serial port (writes cut into 32 KiB pieces) reaches the peer intact.
    @Test func serialWritesArriveIntact() throws {
        let pair = try Pair(state: nil, options: FramedConnection.Options.vmInit.forSerialPort())
        let payload = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        pair.connection.send(.stdout(SessionRef(session: 3)), payload: payload)
        pair.connection.send(.ping(Ping(id: 9)))
        try pair.peer.fd.setNonBlocking()
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let expected = Frame(.ping(Ping(id: 9))).encoded() + Frame(.stdout(SessionRef(session: 3)), payload: payload).encoded()
        #expect(try pair.run(until: {
            while let n = buffer.withUnsafeMutableBytes({ try? pair.peer.fd.read(into: $0) }) ?? nil, n > 0 { got += buffer[..<n] }
            return got.count >= expected.count
        }))
        #expect(got == expected)
    }

    @Test func splitCutsBuffersIntoPiecesInOrder() {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 8)
        defer { storage.deallocate() }
        let a = UnsafeMutableRawBufferPointer(rebasing: storage[0..<10_000])
        let b = UnsafeMutableRawBufferPointer(rebasing: storage[10_000..<10_100])
        let c = UnsafeMutableRawBufferPointer(rebasing: storage[10_100..<100_000])
        let pieces = FramedConnection.split([a, b, c], piece: 4096)
        #expect(pieces.allSatisfy { $0.count <= 4096 && $0.count > 0 })
        #expect(pieces.reduce(0) { $0 + $1.count } == 100_000)
        // Contiguous and in order: each piece starts where the previous one ended.
        for (x, y) in zip(pieces, pieces.dropFirst()) { #expect(x.baseAddress! + x.count == y.baseAddress!) }
        #expect(FramedConnection.split([a, b], piece: nil).map(\.count) == [10_000, 100])
        #expect(FramedConnection.split([a, b], piece: 20_000).map(\.count) == [10_000, 100])
        let many = FramedConnection.split([storage], piece: 10)
        #expect(many.count == FramedConnection.maxPieces)
        #expect(many.allSatisfy { $0.count == 10 })
    }
}

/// Writes `bytes` to a blocking descriptor from its own thread, in pieces of varying size.
final class ThreadedWriter: @unchecked Sendable {
    private var thread = pthread_t()
    private let fd: FileDescriptor
    private let bytes: [UInt8]

    init(fd: FileDescriptor, bytes: [UInt8]) throws {
        self.fd = fd
        self.bytes = bytes
        let box = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { raw in
            let writer = Unmanaged<ThreadedWriter>.fromOpaque(raw!).takeRetainedValue()
            writer.write()
            return nil
        }, box.toOpaque())
        if rc != 0 { box.release(); throw SystemError("pthread_create", errno: rc) }
    }

    private func write() {
        var offset = 0
        var size = 1
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let end = min(raw.count, offset + size)
                try? fd.writeAll(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
                size = size >= 300_000 ? 1 : size * 3 + 7
            }
        }
    }

    func join() { pthread_join(thread, nil) }
}
