import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
import VsockTransport

/// `fc-supervisor exec` whose stdout or stderr is a pipe passes the pipe to the supervisor (PROTOCOL.md §11.3,
/// `stdout_descriptor`, `stderr_descriptor`), which writes the session's output there itself: one hop fewer for
/// every output byte. Real supervisor, simulator, real vm-init.
@Suite(.serialized) struct OutputDescriptorTests {
    /// What `seq 1 N` prints, as the host's own `seq` prints it.
    private static func seq(_ n: Int) throws -> [UInt8] {
        Array(try runToEnd("/usr/bin/seq", ["1", String(n)], environment: [:]).stdout.utf8)
    }

    /// Bytes process `pid` gave write-like system calls so far (`wchar` of /proc/PID/io).
    private static func bytesWritten(by pid: Int32) -> Int {
        let io = FileContents.text("/proc/\(pid)/io") ?? ""
        let line = io.split(separator: "\n").first { $0.hasPrefix("wchar:") }
        return line.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? -1
    }

    /// Reads exactly `count` bytes (blocking), or fewer at end of file.
    private static func read(_ fd: FileDescriptor, count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while bytes.count < count {
            let want = min(buffer.count, count - bytes.count)
            let n = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in
                try fd.readSome(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<want]))
            }
            guard case .processed(let got) = n, got > 0 else { break }
            bytes += buffer[..<got]
        }
        return bytes
    }

    /// `fc-supervisor exec ID -- sh -c SCRIPT` with its stdout and stderr each a new pipe of the test's, whose
    /// write ends only the client holds; the caller closes the read ends.
    private static func execPiped(_ h: SimulatorHarness, id: String, _ script: String) throws
        -> (client: ChildUnderTest, out: FileDescriptor, err: FileDescriptor) {
        let out = try LinuxSystem.Pipe(), err = try LinuxSystem.Pipe()
        defer { out.writeEnd.close(); err.writeEnd.close() }
        let client = try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, id, "--", "sh", "-c", script],
                                        environment: h.environment(), standardOutput: out.writeEnd,
                                        standardError: err.writeEnd)
        return (client, out.readEnd, err.readEnd)
    }

    /// 20 MiB of stdout and a line of stderr arrive exactly, each in its own pipe, and the exec client wrote
    /// (almost) none of them. Its pipes reach end of file once the session has ended.
    @Test func pipedOutputIsWrittenByTheSupervisorNotTheClient() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "out")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "out")
        let expected = try Self.seq(3_000_000)
        // The session stays open after its output, so the client's counters can be read while it runs.
        let (client, out, err) = try Self.execPiped(h, id: "out", "seq 1 3000000; echo done >&2; exec sleep 600")
        defer { out.close(); err.close() }
        let link = try pipeLink(out)
        let got = try Self.read(out, count: expected.count)
        #expect(got.count == expected.count && got == expected, "\(got.count) of \(expected.count) bytes")
        #expect(try Self.read(err, count: 5) == Array("done\n".utf8))
        #expect(openDescriptors(of: supervisor).contains(link), "the supervisor does not hold the client's stdout pipe")
        let written = Self.bytesWritten(by: client.pid)
        #expect(written >= 0 && written < 1 << 20, "the exec client wrote \(written) bytes: stdout went through it")

        client.kill(SIGTERM)  // relayed to the session: sleep ends with SIGTERM
        #expect(client.wait(timeout: 30).shellStatus == 143, "\(client.stderr)")
        // Every writer is gone (the client exited; the supervisor closed its copies before sending `exit`).
        #expect(try out.readToEnd() == [] && err.readToEnd() == [])
        #expect(!openDescriptors(of: supervisor).contains(link))
    }

    /// stdout and stderr may be the same pipe (`2>&1 |`). `exit` comes only after the last byte is in the
    /// pipe and the supervisor's copies are closed: once the client has exited, the pipe (which the supervisor
    /// grew to 1 MiB, so the 575 KiB fit unread) holds all output and then end of file, without waiting.
    @Test func exitFollowsTheLastByteAndOnePipeMayServeBoth() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "both")
        defer { vm.kill(SIGTERM); vm.wait() }
        let expected = try Self.seq(100_000)
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.readEnd.close() }
        let client = try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, "both", "--",
                                                       "sh", "-c", "seq 1 100000; echo tail >&2; exit 3"],
                                        environment: h.environment(), standardOutput: pipe.writeEnd,
                                        standardError: pipe.writeEnd)
        pipe.writeEnd.close()
        let status = client.wait(timeout: 60)
        #expect(status.shellStatus == 3, "\(client.stderr)")
        try pipe.readEnd.setNonBlocking()
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var ending: IOResult<Int> = .wouldBlock
        while true {
            ending = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try pipe.readEnd.readSome(into: raw) }
            guard case .processed(let n) = ending, n > 0 else { break }
            got += buffer[..<n]
        }
        #expect(ending == .processed(0), "the pipe had no end of file when the client had exited")
        var rest = got
        if let range = rest.indices.first(where: { rest[$0...].starts(with: Array("tail\n".utf8)) }) {
            rest.removeSubrange(range..<(range + 5))
        }
        #expect(got.count == expected.count + 5 && rest == expected, "\(got.count) bytes, \(expected.count + 5) expected")
    }

    /// A reader that stops: the supervisor holds no more than the guest's credit, so the process blocks; and
    /// the pipe is released when the client goes.
    @Test func aStalledReaderHoldsBackTheProcessAndADisconnectReleasesThePipe() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "stall")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "stall")
        let (client, out, err) = try Self.execPiped(h, id: "stall", "echo begun >&2; head -c 67108864 /dev/zero; echo finished >&2")
        defer { out.close(); err.close() }
        let link = try pipeLink(out)
        #expect(try Self.read(err, count: 6) == Array("begun\n".utf8))
        Thread.sleep(forTimeInterval: 2)
        #expect(openDescriptors(of: supervisor).contains(link), "the supervisor does not hold the client's stdout pipe")
        // 64 MiB cannot pass: the pipe (grown to 1 MiB), the guest's 4 MiB window, the guest's 1 MiB pipe.
        try err.setNonBlocking()
        var byte: UInt8 = 0
        let more = try withUnsafeMutableBytes(of: &byte) { (raw) throws(SystemError) in try err.readSome(into: raw) }
        #expect(more == .wouldBlock, "the process finished although nobody read its output")

        client.kill(SIGKILL)
        client.wait()
        let released = Deadline(seconds: 10).poll(every: 0.02) { !openDescriptors(of: supervisor).contains(link) }
        #expect(released, "the supervisor still holds the pipe after its client went")
        // With every writer gone, the reader gets what was written and then end of file.
        let held = try out.readToEnd(limit: 16 << 20)
        #expect(held.count <= 1 << 20, "\(held.count) bytes were in the pipe")
    }

    /// A reader that went away: output is dropped, as when the client's own stdout breaks, and the session
    /// still ends with its status.
    @Test func aClosedReaderDropsOutputAndTheExitStillComes() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "gone")
        defer { vm.kill(SIGTERM); vm.wait() }
        let out = try LinuxSystem.Pipe()
        out.readEnd.close()
        let client = try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, "gone", "--",
                                                       "sh", "-c", "head -c 8388608 /dev/zero; echo ok >&2; exit 4"],
                                        environment: h.environment(), standardOutput: out.writeEnd)
        out.writeEnd.close()
        #expect(client.wait(timeout: 60).shellStatus == 4, "\(client.stderr)")
        #expect(client.stderr == "ok\n")
    }
}
