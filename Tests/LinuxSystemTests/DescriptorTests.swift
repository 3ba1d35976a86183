import Glibc
@testable import LinuxSystem
import Testing

/// FileDescriptor: the would-block result, EINTR retries, deadline waits, locks, peer credentials.
struct DescriptorTests {
    @Test func readOnAnEmptyNonBlockingPipeWouldBlock() throws {
        let pipe = try Pipe(nonBlocking: true)
        defer { pipe.close() }
        var buffer = [UInt8](repeating: 0, count: 16)
        let empty = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.readSome(into: raw) }
        #expect(empty == .wouldBlock)
        try pipe.writeEnd.writeAll(Array("abc".utf8))
        let some = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.readSome(into: raw) }
        #expect(some == .processed(3))
        #expect(buffer.prefix(3) == Array("abc".utf8)[...])
        // The older shape still says nil for "nothing yet" and 0 for end of file.
        #expect(try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.read(into: raw) } == nil)
        pipe.writeEnd.close()
        let eof = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.readSome(into: raw) }
        #expect(eof == .processed(0))
    }

    @Test func writeToAFullNonBlockingPipeWouldBlock() throws {
        let pipe = try Pipe(nonBlocking: true)
        defer { pipe.close() }
        let capacity = try pipe.writeEnd.setPipeCapacity(4096)
        #expect(capacity >= 4096)
        let chunk = [UInt8](repeating: 7, count: 1024)
        var written = 0
        var last = IOResult<Int>.processed(0)
        for _ in 0..<10_000 {
            last = try chunk.withUnsafeBytes { (raw) throws(SystemError) in try pipe.writeEnd.writeSome(raw) }
            guard case .processed(let n) = last else { break }
            written += n
        }
        #expect(last == .wouldBlock)
        #expect(written == capacity)
        #expect(try chunk.withUnsafeBytes { (raw) throws(SystemError) in try pipe.writeEnd.write(raw) } == 0)
        #expect(try pipe.readEnd.bytesAvailable() == capacity)
    }

    @Test func writeToAPipeWithoutReaderIsEPIPE() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let pipe = try Pipe()
        pipe.readEnd.close()
        defer { pipe.writeEnd.close() }
        #expect { try pipe.writeEnd.writeAll([1]) } throws: { ($0 as? SystemError)?.errno == EPIPE }
    }

    @Test func retryingOnEINTRRetriesOnlyEINTR() throws {
        var calls = 0
        let value = try retryingOnEINTR("probe") { () -> Int32 in
            calls += 1
            if calls < 3 { Glibc.errno = EINTR; return -1 }
            return 42
        }
        #expect(value == 42 && calls == 3)
        #expect { _ = try retryingOnEINTR("probe", "context") { () -> Int32 in Glibc.errno = EBADF; return -1 } } throws: {
            let error = $0 as? SystemError
            return error?.code == "probe" && error?.errno == EBADF && error?.message == "context"
        }
        calls = 0
        let shim = try retryingOnEINTR(negatedErrno: "shim") { () -> Int32 in calls += 1; return calls < 2 ? -EINTR : 0 }
        #expect(shim == 0 && calls == 2)
    }

    @Test func blockingReadInterruptedBySignalsIsRetriedAndReturnsTheData() throws {
        try InterruptedRead.run()
    }

    @Test func waitReadableHonoursItsDeadline() throws {
        let pipe = try Pipe()
        defer { pipe.close() }
        let start = Clock.now()
        #expect(try pipe.readEnd.waitReadable(until: start + .milliseconds(60)) == false)
        #expect(start.elapsed >= .milliseconds(59))
        #expect(start.elapsed < .seconds(2))
        // A deadline already passed is a non-blocking check.
        #expect(try pipe.readEnd.waitReadable(until: Clock.now() + .milliseconds(-5)) == false)
        try pipe.writeEnd.writeAll([1])
        let ready = Clock.now()
        #expect(try pipe.readEnd.waitReadable(until: ready + .seconds(5)) == true)
        #expect(ready.elapsed < .seconds(1))
        // Hang-up counts as readable: the next read reports end of file.
        let other = try Pipe()
        other.writeEnd.close()
        defer { other.readEnd.close() }
        #expect(try other.readEnd.waitReadable(until: Clock.now() + .seconds(5)) == true)
        #expect(try pipe.writeEnd.waitWritable(until: Clock.now() + .seconds(5)) == true)
    }

    @Test func exclusiveLockIsHeldAgainstASecondOpen() throws {
        let (first, path) = try Files.makeTemporaryFile(prefix: "/tmp/linuxsystem-lock-")
        defer { first.close(); try? Files.remove(path) }
        let second = try FileDescriptor.open(path, flags: O_RDWR)
        defer { second.close() }
        #expect(try first.tryLockExclusive() == true)
        #expect(try first.tryLockExclusive() == true)  // the holder may take it again
        #expect(try second.tryLockExclusive() == false)
        first.close()
        #expect(try second.tryLockExclusive() == true)
    }

    @Test func flagsAndDuplicates() throws {
        let pipe = try Pipe()
        defer { pipe.close() }
        #expect(try pipe.readEnd.isNonBlocking() == false)
        try pipe.readEnd.setNonBlocking()
        #expect(try pipe.readEnd.isNonBlocking() == true)
        let copy = try pipe.readEnd.duplicate()
        #expect(copy.isOpen && copy != pipe.readEnd)
        copy.close()
        #expect(!copy.isOpen)
        #expect(try pipe.readEnd.fileType() == .fifo)
    }

    @Test func peerCredentialsNameThisProcess() throws {
        let (a, b) = try UnixSocket.socketPair()
        defer { a.close(); b.close() }
        let credentials = try UnixSocket.peerCredentials(a)
        #expect(credentials == PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid()))
        let pipe = try Pipe()
        defer { pipe.close() }
        #expect(throws: SystemError.self) { try UnixSocket.peerCredentials(pipe.readEnd) }
    }

    @Test func clockArithmetic() {
        let t = Clock.Instant(nanoseconds: 1_000)
        #expect((t + .nanoseconds(500)).nanoseconds == 1_500)
        #expect((t + .nanoseconds(-5_000)).nanoseconds == 0)
        #expect(t.duration(to: Clock.Instant(nanoseconds: 3_000)) == .nanoseconds(2_000))
        #expect(Clock.Instant(nanoseconds: 3_000).duration(to: t) == .nanoseconds(-2_000))
        #expect(Clock.nanoseconds(of: .seconds(Int64.max)) == .max)
        let start = Clock.now()
        Clock.sleep(.milliseconds(20))
        #expect(start.elapsed >= .milliseconds(20))
        #expect(Clock.millisecondsUntil(start) == 0)
    }

    @Test func openFilesLimitIsRaised() throws {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        let before = try ResourceLimits.current(resource)
        let raised = try ResourceLimits.raiseOpenFilesToMaximum()
        let after = try ResourceLimits.current(resource)
        #expect(after.soft == raised)
        // nr_open when the hard limit could be raised (CAP_SYS_RESOURCE), else the old hard limit: soft = hard.
        #expect(after.soft == after.hard)
        #expect(after.soft >= before.hard)
        let ceiling = try #require(Files.readValue("/proc/sys/fs/nr_open").flatMap { UInt64($0) })
        #expect(after.soft == ceiling || after.soft == before.hard)
    }
}
