import Glibc
import LinuxSystem
import Testing

@testable import SupervisorCLI

/// The descriptor a spawned child reports through (``ReadyPipe``): inherited at its number, and only it.
@Suite struct SelfSpawnTests {
    @Test func inheritedDescriptorsReachTheChildAndNothingElseDoes() throws {
        let report = try LinuxSystem.Pipe()
        let other = try LinuxSystem.Pipe()  // close-on-exec, not inherited: the child must not see it
        defer { other.close() }
        let n = report.writeEnd.rawValue
        // Exit status 1: the `test` for the other descriptor failed, so it did not leak.
        let script = "echo ok > /proc/self/fd/\(n); test -e /proc/self/fd/\(other.writeEnd.rawValue) && echo leaked > /proc/self/fd/\(n)"
        var options = SpawnOptions(arguments: ["/bin/sh", "-c", script])
        options.inheritedDescriptors = [report.writeEnd]
        let pid = try ChildProcess.spawn(options)
        report.writeEnd.close()
        #expect(ReadyPipe.wait(report.readEnd) == .ready)
        report.readEnd.close()
        #expect(try ChildProcess.wait(pid: pid, nonBlocking: false)?.termination == .exited(1))
    }

    @Test func theWriterReportsOnceAndClosesOnExec() throws {
        let pipe = try LinuxSystem.Pipe()
        try pipe.writeEnd.setCloexec(false)
        let writer = try #require(ReadyPipe.Writer(number: pipe.writeEnd.rawValue))
        writer.failed("first\nline")
        writer.ready()
        #expect(writer.reported)
        #expect(ReadyPipe.wait(pipe.readEnd) == .failed("first line"))
        pipe.readEnd.close()
        #expect(ReadyPipe.Writer(number: 1) == nil)
    }
}
