import Glibc
import LinuxSystem
import Testing

/// ChildProcess: where a failed spawn stopped, and how an exit is decoded.
struct ChildProcessTests {
    private let environment = ["PATH=/usr/bin:/bin"]

    /// Spawns and waits for exactly that pid (other tests spawn in parallel).
    private func run(_ arguments: [String], configure: (inout SpawnOptions) -> Void = { _ in }) throws -> ProcessTermination {
        var options = SpawnOptions(arguments: arguments, environment: environment)
        configure(&options)
        let pid = try ChildProcess.spawn(options)
        let result = try ChildProcess.wait(pid: pid, nonBlocking: false)
        #expect(result?.pid == pid)
        return try #require(result?.termination)
    }

    @Test func missingProgramFailsAtExecWithENOENT() {
        for program in ["/nonexistent/program", "no-such-program-in-path"] {
            #expect { _ = try run([program]) } throws: { error in
                guard let error = error as? SystemError else { return false }
                return error.childSetupStep == .exec && error.code == "exec" && error.errno == ENOENT
            }
        }
    }

    @Test func badWorkingDirectoryFailsAtChdir() {
        #expect { _ = try run(["/bin/true"]) { $0.workingDirectory = "/nonexistent/directory" } } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.childSetupStep == .chdir && error.errno == ENOENT
        }
    }

    @Test func notExecutableFailsAtExecWithEACCES() throws {
        let directory = try Files.makeTemporaryDirectory(prefix: "/tmp/linuxsystem-spawn-")
        defer { try? Files.removeTree(directory) }
        try Files.writeAtomically(directory + "/script", "#!/bin/sh\n", mode: 0o644)
        #expect { _ = try run([directory + "/script"]) } throws: { error in
            (error as? SystemError)?.childSetupStep == .exec && (error as? SystemError)?.errno == EACCES
        }
    }

    @Test func aCgroupTheChildCannotStartInFailsAtTheCgroupStage() throws {
        // A directory that is no cgroup: clone3 refuses it (EBADF), and the fork path finds no cgroup.procs.
        let directory = try Files.makeTemporaryDirectory(prefix: "/tmp/linuxsystem-spawn-")
        defer { try? Files.removeTree(directory) }
        let notACgroup = try FileDescriptor.open(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { notACgroup.close() }
        #expect { _ = try run(["/bin/true"]) { $0.cgroup = notACgroup } } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.childSetupStep == .cgroup && error.code == "cgroup" && [EBADF, ENOENT].contains(error.errno)
        }
    }

    @Test func aMultiThreadedCallersChildJoinsByWritingCgroupProcsBeforeExec() throws {
        // The test process runs threads, so spawn forks and the child writes "0" to the directory's cgroup.procs
        // (clone3 is for single-threaded callers such as vm-init; the namespace tests cover that path). A plain
        // file in its place records the write, which happens before the program runs.
        let directory = try Files.makeTemporaryDirectory(prefix: "/tmp/linuxsystem-spawn-")
        defer { try? Files.removeTree(directory) }
        try Files.writeAtomically(directory + "/cgroup.procs", "", mode: 0o644)
        let leaf = try FileDescriptor.open(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { leaf.close() }
        #expect(try run(["/bin/true"]) { $0.cgroup = leaf } == .exited(0))
        #expect(try Files.readText(directory + "/cgroup.procs") == "0")
    }

    @Test func emptyArgvIsRejectedBeforeFork() {
        #expect { _ = try ChildProcess.spawn(SpawnOptions(arguments: [])) } throws: { error in
            (error as? SystemError)?.childSetupStep == nil && (error as? SystemError)?.errno == EINVAL
        }
    }

    @Test func exitCodeIsDecoded() throws {
        let termination = try run(["/bin/sh", "-c", "exit 7"])
        #expect(termination == .exited(7))
        #expect(termination.shellStatus == 7)
        #expect(try run(["/bin/true"]) == .exited(0))
    }

    @Test func killingSignalIsDecoded() throws {
        let termination = try run(["/bin/sh", "-c", "kill -TERM $$"])
        #expect(termination == .signaled(SIGTERM, coreDumped: false))
        #expect(termination.shellStatus == 128 + SIGTERM)
    }

    @Test func nonBlockingWaitSeesARunningChildThenItsEnd() throws {
        let pid = try ChildProcess.spawn(SpawnOptions(arguments: ["/bin/sleep", "10"], environment: environment))
        #expect(try ChildProcess.wait(pid: pid, nonBlocking: true) == nil)
        try ChildProcess.signal(pid, SIGKILL)
        let result = try ChildProcess.wait(pid: pid, nonBlocking: false)
        #expect(result?.termination == .signaled(SIGKILL, coreDumped: false))
        #expect { _ = try ChildProcess.wait(pid: pid, nonBlocking: true) } throws: { error in
            (error as? SystemError)?.errno == ECHILD
        }
    }

    @Test func stdioAndWorkingDirectoryReachTheChild() throws {
        let output = try Pipe()
        defer { output.readEnd.close() }
        let termination = try run(["/bin/sh", "-c", "pwd"]) {
            $0.workingDirectory = "/proc"
            $0.standardOutput = output.writeEnd
        }
        output.writeEnd.close()
        #expect(termination == .exited(0))
        #expect(String(decoding: try output.readEnd.readToEnd(), as: UTF8.self) == "/proc\n")
    }
}
