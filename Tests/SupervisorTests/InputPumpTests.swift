import Foundation
import Glibc
import LinuxSystem
import Testing
@testable import Supervisor

/// The stdin pump reads each chunk into an array of its own, sized from the last read, and hands the array to
/// the target as it is; credit bounds every read; end of file closes the target's stdin.
@Suite struct InputPumpTests {
    class Target: StdinTarget {
        var credit: Int
        var chunks: [[UInt8]] = []
        var unsafeSends = 0
        var closed = false
        init(credit: Int) { self.credit = credit }
        var stdinCredit: Int { credit }
        func sendStdin(_ bytes: UnsafeRawBufferPointer) -> Int {
            unsafeSends += 1
            let n = min(bytes.count, credit)
            chunks.append(Array(bytes[..<n]))
            credit -= n
            return n
        }
        func sendStdin(_ bytes: [UInt8]) -> Int {
            let n = min(bytes.count, credit)
            chunks.append(Array(bytes[..<n]))
            credit -= n
            return n
        }
        func closeStdin() { closed = true }
    }

    /// A busy pipe: reads grow to whole pipe-fuls, never past the credit, and every byte arrives in order.
    @Test func busyPipeIsReadInGrowingChunksWithinCredit() throws {
        let loop = try EventLoop()
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.readEnd.close() }
        let total = 3 << 20
        let data = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let target = Target(credit: 1 << 20)
        let pump = InputPump(fd: pipe.readEnd, loop: loop, target: target)
        pump.start()
        try pipe.writeEnd.setNonBlocking()
        var written = 0
        var grants = 0
        func turn() {
            if written < total {
                written += data[written...].withUnsafeBytes { (try? pipe.writeEnd.write($0)) ?? 0 }
                if written == total { pipe.writeEnd.close() }
            }
            // The receiver takes everything it was sent and grants it back, as a peer's window would (end of
            // file, too, is only read with credit).
            if target.credit == 0 { target.credit = 1 << 20; grants += 1; pump.creditChanged() }
            if target.closed { loop.stop() } else { loop.addTimer(after: .milliseconds(1)) { turn() } }
        }
        loop.post { turn() }
        let deadline = loop.addTimer(after: .seconds(20)) { loop.stop() }
        try loop.run()
        loop.cancelTimer(deadline)
        #expect(target.closed)
        #expect(target.chunks.flatMap { $0 } == data)
        #expect(target.unsafeSends == 0)
        #expect(target.chunks.allSatisfy { $0.count <= InputPump.maxRead })
        // Reads grew past the first small one (a pipe holds 64 KiB by default).
        #expect((target.chunks.map(\.count).max() ?? 0) >= 32 * 1024)
        #expect(grants >= 2)
    }

    /// The pump grows the pipe it reads to 1 MiB, so a writer that keeps up fills whole 1 MiB frames; and a read
    /// that fills a request cut short by credit keeps the read size: the first grant ramps the reads up (4 KiB,
    /// 8 KiB, ... 512 KiB, then the 4 KiB the credit has left), the second is taken in one 1 MiB read, not in
    /// a new ramp from 8 KiB.
    @Test func theNextGrantAfterACreditLimitedReadIsReadWhole() throws {
        let loop = try EventLoop()
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.readEnd.close(); pipe.writeEnd.close() }
        try pipe.writeEnd.setNonBlocking()
        let target = Target(credit: 0)
        let pump = InputPump(fd: pipe.readEnd, loop: loop, target: target)
        pump.start()
        let block = [UInt8](repeating: 0x33, count: InputPump.maxRead)
        func fill() -> Int { block.withUnsafeBytes { (try? pipe.writeEnd.write($0)) ?? 0 } }
        var rounds: [[Int]] = []
        func round(_ left: Int) {
            guard left > 0 else { return loop.stop() }
            #expect(fill() == InputPump.maxRead, "the pipe was not grown to hold a whole frame")
            target.chunks = []
            target.credit = InputPump.maxRead
            pump.creditChanged()
            loop.addTimer(after: .milliseconds(100)) {
                rounds.append(target.chunks.map(\.count))
                target.credit = 0
                round(left - 1)
            }
        }
        loop.post { round(2) }
        try loop.run()
        pump.stop()
        #expect(rounds.count == 2)
        #expect(rounds.first?.reduce(0, +) == InputPump.maxRead)
        #expect(rounds.first?.last == 4096, "\(rounds)")
        #expect(rounds.last == [InputPump.maxRead], "\(rounds)")
    }

    /// No credit: nothing is read; credit of a few bytes: no more than that is read. The same when every read
    /// is one that never waits (a pipe passed by an exec client).
    @Test(arguments: [false, true])
    func readsNeverExceedTheCredit(readsWithoutWaiting: Bool) throws {
        let loop = try EventLoop()
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.readEnd.close(); pipe.writeEnd.close() }
        try pipe.writeEnd.writeAll([UInt8](repeating: 7, count: 10_000))
        let target = Target(credit: 0)
        let pump = InputPump(fd: pipe.readEnd, loop: loop, target: target, readsWithoutWaiting: readsWithoutWaiting)
        pump.start()
        func step(_ then: @escaping () -> Void) { loop.addTimer(after: .milliseconds(20), then) }
        step {
            #expect(target.chunks.isEmpty)
            target.credit = 3
            pump.creditChanged()
            step {
                #expect(target.chunks == [[7, 7, 7]])
                loop.stop()
            }
        }
        try loop.run()
        pump.stop()
    }

    /// A pipe another process also reads: epoll said readable, but the bytes were gone by the time the pump
    /// read. Reading without waiting, the pump's turn ends at once and the loop goes on; a plain read on the
    /// blocking pipe would have stalled the loop until the next bytes came (here: the watchdog's, seconds later).
    @Test func aPipeEmptiedByAnotherReaderDoesNotStallTheLoop() throws {
        SystemControl.ignoreSignal(SIGPIPE)  // the watchdog may write after the test closed every reader
        let loop = try EventLoop()
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.readEnd.close(); pipe.writeEnd.close() }
        let thief = try pipe.readEnd.duplicate()
        defer { thief.close() }
        try pipe.writeEnd.writeAll(Array("taken".utf8))
        /// Asked for its credit right before the pump reads: the other reader empties the pipe at that moment.
        final class Racing: Target {
            let thief: FileDescriptor
            var stolen = 0
            init(thief: FileDescriptor) { self.thief = thief; super.init(credit: 1 << 20) }
            override var stdinCredit: Int {
                var buffer = [UInt8](repeating: 0, count: 64)
                stolen += buffer.withUnsafeMutableBytes { (try? thief.readWithoutWaiting(into: $0))?.value ?? 0 }
                return credit
            }
        }
        let target = Racing(thief: thief)
        let pump = InputPump(fd: pipe.readEnd, loop: loop, target: target, readsWithoutWaiting: true)
        pump.start()
        // Unblocks a pump that (wrongly) waits in read: the test then fails on what it read instead of hanging.
        let writer = try pipe.writeEnd.duplicate()
        let watchdog = Thread {
            Thread.sleep(forTimeInterval: 5)
            try? writer.writeAll(Array("late".utf8))
            writer.close()
        }
        watchdog.start()
        var turns = 0
        func turn() {
            turns += 1
            if turns == 20 { loop.stop() } else { loop.addTimer(after: .milliseconds(5)) { turn() } }
        }
        loop.post { turn() }
        try loop.run()
        pump.stop()
        #expect(target.stolen == 5)
        #expect(target.chunks.isEmpty, "the pump read \(target.chunks) after its bytes were taken")
        #expect(!target.closed)
    }
}
