import Foundation
import Glibc
import Testing

/// What every end-to-end test needs: the built `fc-supervisor`, QEMU, the guest kernel and a guest initramfs
/// (vm-init + busybox-static) built once per test process by `GuestImage/build-image.sh`.
///
/// Nothing is skipped: a missing QEMU, kernel or static vm-init fails every test with the command that fixes it.
struct E2EEnvironment: Sendable {
    let supervisor: String
    let kernel: String
    let initrd: String
    /// Short (Unix socket paths are limited to 107 bytes), unique per test process.
    let stateRoot: String

    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }
        return path
    }()

    /// Built once; every test shares it.
    static let shared: Result<E2EEnvironment, E2EFailure> = Result { try E2EEnvironment() }.mapError {
        $0 as? E2EFailure ?? E2EFailure("\($0)")
    }

    static func get() throws -> E2EEnvironment { try shared.get() }

    private init() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = (exe as NSString).deletingLastPathComponent
        var found: String?
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir + "/fc-supervisor") { found = dir + "/fc-supervisor"; break }
            dir = (dir as NSString).deletingLastPathComponent
        }
        guard let supervisor = found else { throw E2EFailure("fc-supervisor is not built next to \(exe) (swift build)") }
        self.supervisor = supervisor

        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/qemu-system-x86_64") }) else {
            throw E2EFailure("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86 (make deps)")
        }
        // `make guest-kernel` output first, else the prebuilt kernel in ../shared beside the clone.
        let repo = Self.repository
        let candidates = [repo + "/build/vmlinux", repo + "/../shared/guest-kernel/vmlinux"]
        guard let kernel = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw E2EFailure("no guest kernel at \(candidates.joined(separator: " or ")) (make guest-kernel)")
        }
        self.kernel = kernel
        let vmInit = repo + "/build/vm-init"
        guard FileManager.default.isExecutableFile(atPath: vmInit) else {
            throw E2EFailure("no static vm-init at \(vmInit) (make vm-init-static)")
        }
        let root = try makeTemporaryDirectory(prefix: "/tmp/fce2e-")
        stateRoot = root + "/s"
        initrd = root + "/initrd.cpio"
        let build = try runToEnd("/bin/bash", [repo + "/GuestImage/build-image.sh", "--busybox", "--vm-init", vmInit,
                                                "--initrd", initrd], timeout: 120)
        guard build.status == 0 else {
            throw E2EFailure("GuestImage/build-image.sh failed (\(build.status)): \(build.stderr)")
        }
    }

    /// `fc-supervisor run` arguments booting VM `id` under QEMU; the state directory is kept for inspection.
    func run(id: String, memoryMiB: Int = 256, command: [String]) -> [String] {
        ["run", "--vmm", "qemu", "--id", id, "--state-dir", stateRoot, "--kernel", kernel, "--initrd", initrd,
         "--memory-mib", "\(memoryMiB)", "--vcpus", "1", "--boot-timeout", "30", "--stop-timeout", "3", "--keep-state",
         "--"] + command
    }

    func exec(id: String, _ options: [String] = [], command: [String]) -> [String] {
        ["exec", "--state-dir", stateRoot] + options + [id, "--"] + command
    }

    /// The events of VM `id` (kept with --keep-state), one dictionary per line.
    func events(id: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: "\(stateRoot)/\(id)/events.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func event(_ name: String, id: String) -> [String: Any]? {
        events(id: id).first { $0["event"] as? String == name }
    }

    /// The QEMU pid recorded in the `booted` event.
    func qemuPid(id: String) -> Int32? {
        (event("booted", id: id)?["pid"] as? NSNumber).map { $0.int32Value }
    }

    /// Milliseconds from QEMU's launch to vm-init's hello.
    func bootToReadyMs(id: String) -> Double? {
        guard let booted = event("booted", id: id)?["elapsed_ms"] as? Double,
              let ready = event("ready", id: id)?["elapsed_ms"] as? Double else { return nil }
        return ready - booted
    }

    /// Waits until vm-init said hello (the `ready` event), the supervisor exited, or the deadline.
    func waitUntilReady(id: String, process: RunningProcess, timeout: Double = 40) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if event("ready", id: id) != nil { return true }
            if !process.process.isRunning { return false }
            usleep(20_000)
        }
        return false
    }
}

/// Whether process `pid` still exists (QEMU is the supervisor's child: once reaped, it is gone).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}

struct E2EFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func makeTemporaryDirectory(prefix: String) throws -> String {
    var template = Array((prefix + "XXXXXX").utf8CString)
    guard mkdtemp(&template) != nil else { throw E2EFailure("mkdtemp \(prefix) failed") }
    return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A started process with captured output.
final class RunningProcess: @unchecked Sendable {  // output buffers are guarded by `lock`
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    let stdinPipe = Pipe()
    private var out = Data()
    private var err = Data()
    private let lock = NSLock()

    init(_ executable: String, _ arguments: [String], stdin: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = stdin ? stdinPipe : FileHandle.nullDevice
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            self?.lock.withLock { self?.out.append(d) }
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            self?.lock.withLock { self?.err.append(d) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    /// Waits for exit, SIGKILLing the process at the deadline (every VM boot has one), and returns its status.
    @discardableResult
    func wait(timeout: Double = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        if let rest = try? stdoutPipe.fileHandleForReading.readToEnd() { lock.withLock { out.append(rest) } }
        if let rest = try? stderrPipe.fileHandleForReading.readToEnd() { lock.withLock { err.append(rest) } }
        return process.terminationStatus
    }
}

/// Runs a command to completion (killed at `timeout`).
func runToEnd(_ executable: String, _ arguments: [String], input: Data? = nil,
              timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = try RunningProcess(executable, arguments, stdin: input != nil)
    if let input {
        try p.stdinPipe.fileHandleForWriting.write(contentsOf: input)
        try p.stdinPipe.fileHandleForWriting.close()
    }
    let status = p.wait(timeout: timeout)
    return (status, p.stdout, p.stderr)
}
