import Foundation
import Glibc
import Testing

/// Paths of the built executables and the Firecracker simulator, and a scratch state directory per test.
///
/// Rung 3 of the test ladder: the real `fc-supervisor` boots the Firecracker simulator
/// (`Tests/Simulator/firecracker-sim`), whose guest is the real `vm-init` as PID 1 in fresh namespaces.
struct SimulatorHarness {
    let supervisor: String
    let vmInit: String
    let simulator: String
    let kernel: String
    let stateRoot: String
    let requestLog: String

    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }
        return path
    }()

    init() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = (exe as NSString).deletingLastPathComponent
        var found: String?
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir + "/fc-supervisor") { found = dir; break }
            dir = (dir as NSString).deletingLastPathComponent
        }
        guard let binDir = found else { throw HarnessFailure("fc-supervisor not built next to \(exe)") }
        supervisor = binDir + "/fc-supervisor"
        vmInit = binDir + "/vm-init"
        simulator = Self.repository + "/Tests/Simulator/firecracker-sim"
        // The simulator opens the kernel at PUT /boot-source, as Firecracker does; any readable file will do.
        let root = try Self.makeTemporaryDirectory(prefix: "/var/tmp/fcsup-")
        stateRoot = root + "/s"
        kernel = root + "/vmlinux"
        requestLog = root + "/requests.jsonl"
        guard FileManager.default.createFile(atPath: kernel, contents: Data("not a kernel".utf8)) else {
            throw HarnessFailure("cannot create \(kernel)")
        }
    }

    static func makeTemporaryDirectory(prefix: String) throws -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else {
            throw HarnessFailure("mkdtemp \(prefix) failed")
        }
        template.removeLast() // the NUL
        return String(decoding: template.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Environment for the supervisor (and so for the simulator it launches).
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FCSIM_GUEST_INIT"] = vmInit
        env["FCSIM_REQUEST_LOG"] = requestLog
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// `fc-supervisor run` arguments for VM `id`.
    func runArguments(id: String, bootTimeout: Double = 30, extra: [String] = [], command: [String]) -> [String] {
        ["run", "--id", id, "--state-dir", stateRoot, "--firecracker-bin", simulator, "--kernel", kernel,
         "--boot-timeout", String(bootTimeout)] + extra + ["--"] + command
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: (stateRoot as NSString).deletingLastPathComponent)
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A started process whose stdout and stderr go to files (not pipes: a daemon it forks, like the tmux
/// server, may keep a pipe open forever).
final class RunningProcess: @unchecked Sendable {  // immutable after init; Process is thread-safe enough here
    let process = Process()
    let stdinPipe = Pipe()
    private let outPath: String
    private let errPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: Bool = false) throws {
        let base = try SimulatorHarness.makeTemporaryDirectory(prefix: "/var/tmp/fcsup-out-")
        outPath = base + "/stdout"
        errPath = base + "/stderr"
        guard FileManager.default.createFile(atPath: outPath, contents: nil) else { throw HarnessFailure("cannot create \(outPath)") }
        guard FileManager.default.createFile(atPath: errPath, contents: nil) else { throw HarnessFailure("cannot create \(errPath)") }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = stdin ? stdinPipe : FileHandle.nullDevice
        try process.run()
    }

    deinit { try? FileManager.default.removeItem(atPath: (outPath as NSString).deletingLastPathComponent) }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits for exit (killing the process at the deadline) and returns its status.
    ///
    /// Reaps with waitpid itself: Foundation's exit monitoring has been seen to miss a child's exit (a zombie
    /// `tmux new-session -d` client) when other tests in the process handle SIGCHLD, and then
    /// `waitUntilExit()` never returns.
    @discardableResult
    func wait(timeout: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        var killed = false
        while isRunning {
            if !killed && Date() >= deadline { kill(pid, SIGKILL); killed = true }
            usleep(10_000)
        }
        return reaped ?? 255
    }

    /// Whether the process still runs; reaps it (waitpid) once it has exited.
    var isRunning: Bool {
        if reaped != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            signaled = (status & 0x7f) != 0
            reaped = signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff
            return false
        }
        if r < 0 {
            // Foundation reaped it first: its status is final.
            process.waitUntilExit()
            signaled = process.terminationReason == .uncaughtSignal
            reaped = signaled ? 128 + process.terminationStatus : process.terminationStatus
            return false
        }
        return true
    }
    private var reaped: Int32?
    /// After ``wait(timeout:)``: whether a signal ended the process (its status is then 128 + the signal).
    private(set) var signaled = false

    /// Waits until stdout contains `text`.
    func waitForOutput(_ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stdout.contains(text) { return true }
            if !isRunning { return stdout.contains(text) }
            usleep(10_000)
        }
        return false
    }
}

/// Runs a command to completion.
func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String], input: Data? = nil,
              timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = try RunningProcess(executable, arguments, environment: environment, stdin: input != nil)
    if let input {
        try p.stdinPipe.fileHandleForWriting.write(contentsOf: input)
        try p.stdinPipe.fileHandleForWriting.close()
    }
    let status = p.wait(timeout: timeout)
    return (status, p.stdout, p.stderr)
}

/// Processes whose command line contains `needle` (from /proc).
func processesMatching(_ needle: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        // Zombies have an empty cmdline and are not running anything.
        return cmdline.contains(needle)
    }
}
