import Foundation
import Glibc
import TestSupport
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
    private let root: TemporaryDirectory

    init() throws {
        supervisor = try BuiltProduct.path("fc-supervisor")
        vmInit = try BuiltProduct.path("vm-init")
        simulator = RepoPath.file("Tests/Simulator/firecracker-sim")
        root = try TemporaryDirectory(prefix: "/var/tmp/fcsup-")
        stateRoot = root.file("s")
        kernel = root.file("vmlinux")
        requestLog = root.file("requests.jsonl")
        // The simulator opens the kernel at PUT /boot-source, as Firecracker does; any readable file will do.
        guard FileManager.default.createFile(atPath: kernel, contents: Data("not a kernel".utf8)) else {
            throw HarnessError("cannot create \(kernel)")
        }
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

    func cleanup() { root.remove() }
}

/// Processes whose command line contains `needle` (from /proc).
func processesMatching(_ needle: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard pid != getpid(), let data = FileContents.bytes("/proc/\(pid)/cmdline") else { return false }
        // Zombies have an empty cmdline and are not running anything.
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(needle)
    }
}
