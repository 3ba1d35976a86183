import Glibc
import LinuxSystem

/// A virtual machine monitor process running one VM: Firecracker (default) or QEMU.
public protocol VMMDriver: AnyObject {
    /// The VMM process, once launched.
    var process: VMMProcess? { get }
    /// Launches the VMM, configures the VM and starts it. Returns when the guest kernel has been started.
    /// Blocks, under `deadline`: it runs before the supervisor's event loop.
    func boot(deadline: Clock.Instant) throws(VMMError)
    /// Opens the byte stream to vm-init: bytes already read past any handshake are returned with it.
    func connectGuest(deadline: Clock.Instant) throws(VMMError) -> (FileDescriptor, [UInt8])
    /// Asks the guest to shut down through the VMM itself (Ctrl-Alt-Del, power button, then `quit`), for when
    /// vm-init does not power off. Never blocks: requests are written and answered on `loop`, later steps are
    /// `loop` timers, and failures are reported through `log`. The caller bounds the whole stop.
    func requestGuestShutdown(on loop: EventLoop, log: @escaping (String) -> Void)
    /// Pauses (stops the vCPUs, keeps memory and devices) or resumes the VM through the VMM. Never blocks: the
    /// request is answered on `loop`, and `completion` runs there once, with nil or the VMM's refusal.
    func setPaused(_ paused: Bool, on loop: EventLoop, completion: @escaping (VMMError?) -> Void)
    /// The host path of the VMM's own metrics (JSON lines), when the VMM was configured to write them.
    var metricsFile: String? { get }
    /// Asks the VMM to write its metrics now. Never blocks: answered on `loop`, `completion` runs there once.
    func flushMetrics(on loop: EventLoop, completion: @escaping (VMMError?) -> Void)
    /// Removes the sockets and files the VMM leaves behind (Firecracker never unlinks anything).
    func cleanup()

    // Snapshots (VMMSnapshot.swift; each VMM's side in <Driver>+Snapshot.swift).
    /// The VMM's version ("1.16.1", "7.2.22"), known once it was booted or restored.
    var vmmVersion: String { get }
    /// Pauses the VM and writes its memory and device state into `files`, then `vmm.json`; the VM stays paused
    /// for ``resumeAfterSnapshot(on:completion:)`` or a stop. Never blocks: `completion` runs once, on `loop`.
    func createSnapshot(_ files: VMMSnapshotFiles, on loop: EventLoop, completion: @escaping (VMMError?) -> Void)
    /// Resumes the VM a snapshot paused (the one pause/resume every VMM version supports).
    func resumeAfterSnapshot(on loop: EventLoop, completion: @escaping (VMMError?) -> Void)
    /// Instead of ``boot(deadline:)``: launches the VMM from a snapshot ``VMMSnapshotInfo/check(_:against:)``
    /// accepted and returns once the VM runs. Blocks, under `deadline`; on failure nothing is left running.
    func restore(from files: VMMSnapshotFiles, deadline: Clock.Instant) throws(VMMError)
}

/// QEMU writes no metrics file.
extension VMMDriver {
    public var metricsFile: String? { nil }
    public func flushMetrics(on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        completion(VMMError(.requestFailed, "this VMM writes no metrics"))
    }
}

/// Builds the driver for `config.vmm`.
public func makeVMMDriver(config: VMConfig, paths: VMMPaths, environment: [String]) -> any VMMDriver {
    switch config.vmm {
    case .firecracker: FirecrackerDriver(config: config, paths: paths, environment: environment)
    case .qemu: QEMUDriver(config: config, paths: paths, environment: environment)
    }
}

/// The VMM child process: launched with a parent-death signal so it never outlives a killed supervisor.
public final class VMMProcess {
    public let pid: Int32
    public private(set) var termination: ProcessTermination?

    init(pid: Int32) { self.pid = pid }

    /// Starts a VMM with stdin on /dev/null and stdout+stderr appended to `outputPath` (VMMs make their stdio
    /// non-blocking, so never hand them ours), in its own process group, killed with SIGKILL if the supervisor
    /// dies; records its pid in `pidFile` for a later start to clean up after a crash.
    static func launch(_ path: String, arguments: [String], environment: [String], outputPath: String,
                       pidFile: String) throws(VMMError) -> VMMProcess {
        do {
            let devNull = try FileDescriptor.open("/dev/null", flags: O_RDWR)
            defer { devNull.close() }
            let output = try FileDescriptor.open(outputPath, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644)
            defer { output.close() }
            let pid = try ChildProcess.launch(path, arguments: arguments, environment: environment,
                                              standardInput: devNull, standardOutput: output, standardError: output,
                                              newProcessGroup: true, parentDeathSignal: SIGKILL)
            // Only for a later start's crash clean-up: a VMM that runs without it is still a booted VMM.
            try? Files.writeAtomically(pidFile, "\(pid)\n")
            return VMMProcess(pid: pid)
        } catch {
            throw VMMError(.bootFailed, "cannot start \(path): \(error)", cause: error)
        }
    }

    /// Reaps the process if it has exited (non-blocking); true while it runs.
    public var isRunning: Bool {
        if termination != nil { return false }
        if let result = try? ChildProcess.wait(pid: pid, nonBlocking: true) {
            termination = result.termination
            return false
        }
        return termination == nil
    }

    /// Waits up to `timeout` for the process to exit; then SIGKILLs and reaps it. Blocks: for teardown, after
    /// the event loop has ended.
    public func waitOrKill(timeout: Duration) {
        let deadline = Clock.deadline(after: timeout)
        while isRunning && !deadline.hasPassed { Clock.sleep(.milliseconds(5)) }
        if isRunning {
            try? ChildProcess.signal(pid, SIGKILL)
            if let result = try? ChildProcess.wait(pid: pid, nonBlocking: false) { termination = result.termination }
        }
    }
}
