import Foundation
import Glibc
import LinuxSystem

/// A process a test starts (a built product, a simulator, a system tool), spawned through LinuxSystem's
/// ``ChildProcess`` and reaped with waitpid on its own pid only.
///
/// stdout and stderr go to files, not pipes: a daemon the process forks (the tmux server, a PostgreSQL server)
/// inherits them and would keep a pipe open forever. Reaping is ours alone: Foundation's `Process` has been seen
/// to miss a child's exit when other code in the test process handles SIGCHLD, and then never returns.
public final class ChildUnderTest: @unchecked Sendable {  // one test thread drives it; nothing is shared
    public let pid: Int32
    private let outputs: TemporaryDirectory
    /// The write end of stdin while ``input`` is still being fed; nil for /dev/null or once all is written.
    private var stdinWriter: FileDescriptor?
    private var pendingInput: ArraySlice<UInt8>
    private var termination: ProcessTermination?

    /// Starts `executable` with `arguments` (argv[0] is `executable`). `environment` nil inherits the test
    /// process's. `input` nil gives the child /dev/null as stdin; otherwise a pipe fed with `input` (then
    /// closed) while the caller waits, so a child that reads late or never cannot block the test.
    /// `standardInput` (without `input`): the child's stdin is that descriptor, which stays the caller's.
    /// `mergeStandardError`: stderr goes to the stdout file, interleaved as written (for logs).
    /// `standardOutput`, `standardError`: that descriptor instead of the file (which stays the caller's; the
    /// file's accessor then reads empty).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                input: [UInt8]? = nil, standardInput: FileDescriptor? = nil, mergeStandardError: Bool = false,
                standardOutput: FileDescriptor? = nil, standardError: FileDescriptor? = nil) throws {
        outputs = try TemporaryDirectory(prefix: "/var/tmp/fc-child-")
        let out = try standardOutput?.duplicate()
            ?? FileDescriptor.open(outputs.file("stdout"), flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
        defer { out.close() }
        let err = mergeStandardError
            ? out : try standardError?.duplicate()
                ?? FileDescriptor.open(outputs.file("stderr"), flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)
        defer { if !mergeStandardError { err.close() } }
        let stdin: FileDescriptor
        if input != nil {
            // A child that exits without reading must give EPIPE here, not kill the test process. Spawned
            // children get every disposition reset to default, so they are unaffected.
            SystemControl.ignoreSignal(SIGPIPE)
            let pipe = try LinuxSystem.Pipe()
            try pipe.writeEnd.setNonBlocking()
            stdinWriter = pipe.writeEnd
            stdin = pipe.readEnd
        } else if let standardInput {
            stdin = try standardInput.duplicate()
        } else {
            stdin = try FileDescriptor.open("/dev/null", flags: O_RDONLY | O_CLOEXEC)
        }
        defer { stdin.close() }
        pendingInput = (input ?? [])[...]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        do {
            // No parent-death signal: a test's thread may end before the child should.
            pid = try ChildProcess.launch(executable, arguments: arguments, environment: env, standardInput: stdin,
                                          standardOutput: out, standardError: err, parentDeathSignal: nil)
        } catch {
            stdinWriter?.close()
            outputs.remove()
            throw HarnessError("cannot start \(executable): \(error)")
        }
        feedInput()
    }

    deinit {
        stdinWriter?.close()
        if termination == nil {
            _ = try? ChildProcess.signal(pid, SIGKILL)
            _ = try? ChildProcess.wait(pid: pid, nonBlocking: false)
        }
        outputs.remove()
    }

    /// Everything the child wrote to stdout so far.
    public var stdout: String { FileContents.text(outputs.file("stdout")) ?? "" }
    /// Everything the child wrote to stderr so far (empty with `mergeStandardError`: it is in ``stdout``).
    public var stderr: String { FileContents.text(outputs.file("stderr")) ?? "" }

    /// Sends `signal` to the child (by pid; a child already reaped is not signalled, so a recycled pid is safe).
    public func kill(_ signal: Int32 = SIGKILL) {
        guard termination == nil else { return }
        _ = try? ChildProcess.signal(pid, signal)
    }

    /// Whether the child still runs; reaps it once it has exited.
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Waits until the child exits or `deadline` passes; nil while it still runs (it is not killed).
    public func wait(until deadline: Deadline) -> ProcessTermination? {
        // Poll faster while stdin is still being fed: each turn writes at most one pipe buffer (64 KiB).
        _ = deadline.poll(every: stdinWriter == nil ? 0.01 : 0.001) { reap(blocking: false) != nil }
        return termination
    }

    /// Waits for exit, SIGKILLing the child at the deadline, and returns how it ended.
    @discardableResult
    public func wait(timeout: Double = 60) -> ProcessTermination {
        if let done = wait(until: Deadline(seconds: timeout)) { return done }
        kill(SIGKILL)
        return reap(blocking: true) ?? .exited(Self.lostStatus)
    }

    /// Waits until stdout contains `text`, the child exits (then checks once more) or the timeout passes.
    public func waitForOutput(_ text: String, timeout: Double = 30) -> Bool {
        _ = Deadline(seconds: timeout).poll { !isRunning || stdout.contains(text) }
        return stdout.contains(text)
    }

    /// The exit status reported when the child was reaped by someone else (waitpid gave ECHILD): no real
    /// process exits with it, so any assertion on the status fails instead of passing by accident.
    public static let lostStatus: Int32 = -1

    private func reap(blocking: Bool) -> ProcessTermination? {
        if let termination { return termination }
        feedInput()
        do {
            guard let (_, ended) = try ChildProcess.wait(pid: pid, nonBlocking: !blocking) else { return nil }
            termination = ended
        } catch {
            termination = .exited(Self.lostStatus)
        }
        stdinWriter?.close()
        stdinWriter = nil
        return termination
    }

    /// Writes as much pending input as the pipe takes now; closes it when all is written or the reader is gone.
    private func feedInput() {
        guard let writer = stdinWriter else { return }
        while !pendingInput.isEmpty {
            let written: Int
            do { written = try pendingInput.withUnsafeBytes { try writer.write($0) } } catch { break }  // EPIPE
            if written == 0 { return }  // full; more on the next poll
            pendingInput = pendingInput.dropFirst(written)
        }
        writer.close()
        stdinWriter = nil
    }
}

/// What a process that ran to its end left.
public struct Completed: Sendable, CustomStringConvertible {
    public var termination: ProcessTermination
    public var stdout: String
    public var stderr: String

    /// Shell convention: the exit code, or 128 + the signal.
    public var status: Int32 { termination.shellStatus }
    /// The exit code; nil when a signal ended the process.
    public var exitCode: Int32? { termination.exitCode }

    public var description: String { "\(termination), stdout: \(stdout.debugDescription), stderr: \(stderr.debugDescription)" }
}

extension ProcessTermination {
    /// The exit code; nil when a signal ended the process.
    public var exitCode: Int32? { if case .exited(let code) = self { code } else { nil } }
    /// Whether a signal ended the process.
    public var signaled: Bool { exitCode == nil }
}

/// Runs a command to completion (SIGKILLed at `timeout`), with `input` on its stdin.
public func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                     input: [UInt8]? = nil, timeout: Double = 60) throws -> Completed {
    let child = try ChildUnderTest(executable, arguments, environment: environment, input: input)
    let termination = child.wait(timeout: timeout)
    return Completed(termination: termination, stdout: child.stdout, stderr: child.stderr)
}
