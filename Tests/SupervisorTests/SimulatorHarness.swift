import Foundation
import Glibc
import LinuxSystem
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

    /// Boots VM `id`, whose workload waits until stopped; returns it once `exec` can reach it.
    func bootIdleVM(id: String) throws -> ChildUnderTest {
        let vm = try ChildUnderTest(supervisor, runArguments(id: id, command: ["sh", "-c", "echo ready; exec sleep 100000"]),
                                    environment: environment())
        guard vm.waitForOutput("ready\n") else { throw HarnessError("VM did not start: \(vm.stderr)") }
        return vm
    }

    /// The pid of VM `id`'s supervisor (its `supervisor.pid`).
    func supervisorPID(id: String) throws -> Int32 {
        guard let text = Files.readValue("\(stateRoot)/\(id)/supervisor.pid"), let pid = Int32(text) else {
            throw HarnessError("no supervisor.pid for \(id)")
        }
        return pid
    }

    /// `fc-supervisor exec --state-dir … ARGS` to its end, with `input` on a pipe as its stdin.
    func exec(_ args: [String], input: [UInt8]? = nil) throws -> Completed {
        try runToEnd(supervisor, ["exec", "--state-dir", stateRoot] + args, environment: environment(), input: input)
    }
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
