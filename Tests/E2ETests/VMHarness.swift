import Foundation
import Glibc
import LinuxSystem
import TestSupport
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

    /// Built once; every test shares it.
    static let shared: Result<E2EEnvironment, HarnessError> = Result { try E2EEnvironment() }.mapError {
        $0 as? HarnessError ?? HarnessError("\($0)")
    }

    static func get() throws -> E2EEnvironment { try shared.get() }

    private init() throws {
        supervisor = try BuiltProduct.path("fc-supervisor")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard path.split(separator: ":").contains(where: { access("\($0)/qemu-system-x86_64", X_OK) == 0 }) else {
            throw HarnessError("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86 (make deps)")
        }
        // `make guest-kernel` output first, else the prebuilt kernel in ../shared beside the clone.
        let candidates = [RepoPath.file("build/vmlinux"), RepoPath.file("../shared/guest-kernel/vmlinux")]
        guard let kernel = candidates.first(where: { access($0, R_OK) == 0 }) else {
            throw HarnessError("no guest kernel at \(candidates.joined(separator: " or ")) (make guest-kernel)")
        }
        self.kernel = kernel
        let vmInit = RepoPath.file("build/vm-init")
        guard access(vmInit, X_OK) == 0 else {
            throw HarnessError("no static vm-init at \(vmInit) (make vm-init-static)")
        }
        // VM state (--keep-state) and the 17 MB initramfs: removed when the test process exits, unless
        // FC_E2E_KEEP=1 keeps them for inspection (its path is printed then).
        let root = try TemporaryDirectory(prefix: "/tmp/fce2e-")
        if ProcessInfo.processInfo.environment["FC_E2E_KEEP"] == "1" {
            print("E2E state kept in \(root.path)")
        } else {
            e2eScratch = root.path
            atexit { if let path = e2eScratch { try? FileManager.default.removeItem(atPath: path) } }
        }
        stateRoot = root.file("s")
        initrd = root.file("initrd.cpio")
        let build = try runToEnd("/bin/bash", [RepoPath.file("GuestImage/build-image.sh"), "--busybox", "--vm-init", vmInit,
                                                "--initrd", initrd], timeout: 120)
        guard build.exitCode == 0 else {
            throw HarnessError("GuestImage/build-image.sh failed (\(build.termination)): \(build.stderr)")
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
        guard let text = FileContents.text("\(stateRoot)/\(id)/events.jsonl") else { return [] }
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
    func waitUntilReady(id: String, process: ChildUnderTest, timeout: Double = 40) -> Bool {
        _ = Deadline(seconds: timeout).poll(every: 0.02) { event("ready", id: id) != nil || !process.isRunning }
        return event("ready", id: id) != nil
    }
}

/// The shared E2E environment's scratch directory, for the `atexit` handler that removes it.
nonisolated(unsafe) private var e2eScratch: String?

/// Whether process `pid` still exists (QEMU is the supervisor's child: once reaped, it is gone).
func processExists(_ pid: Int32) -> Bool {
    do {
        try ChildProcess.signal(pid, 0)
        return true
    } catch {
        return error.errno != ESRCH
    }
}
