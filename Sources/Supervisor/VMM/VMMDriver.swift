import Glibc
import LinuxSystem

/// A virtual machine monitor process running one VM: Firecracker (default) or QEMU.
protocol VMMDriver: AnyObject {
    /// The VMM process, once launched.
    var process: VMMProcess? { get }
    /// Launches the VMM, configures the VM and starts it. Returns when the guest kernel has been started.
    func boot(deadline: ContinuousClock.Instant) throws(SupervisorError)
    /// Opens the byte stream to vm-init: bytes already read past any handshake are returned with it.
    func connectGuest(deadline: ContinuousClock.Instant) throws(SupervisorError) -> (FileDescriptor, [UInt8])
    /// Asks the guest to shut down through the VMM itself (Ctrl-Alt-Del, ACPI), for when vm-init is unreachable.
    func requestGuestShutdown()
    /// Removes the sockets and files the VMM leaves behind (Firecracker never unlinks anything).
    func cleanup()
}

/// The VMM child process: launched with a parent-death signal so it never outlives a killed supervisor.
final class VMMProcess {
    let pid: Int32
    private(set) var termination: ProcessTermination?

    init(pid: Int32) { self.pid = pid }

    /// Starts a VMM with stdin on /dev/null and stdout+stderr appended to `outputPath` (VMMs make their stdio
    /// non-blocking, so never hand them ours), in its own process group, killed with SIGKILL if the supervisor
    /// dies; records its pid in the state directory for a later start to clean up after a crash.
    static func launch(_ path: String, arguments: [String], environment: [String], outputPath: String,
                       state: StateDirectory) throws(SupervisorError) -> VMMProcess {
        do {
            let devNull = try FileDescriptor.open("/dev/null", flags: O_RDWR)
            defer { devNull.close() }
            let output = try FileDescriptor.open(outputPath, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644)
            defer { output.close() }
            let pid = try ChildProcess.launch(path, arguments: arguments, environment: environment,
                                              standardInput: devNull, standardOutput: output, standardError: output,
                                              newProcessGroup: true, parentDeathSignal: SIGKILL)
            writeFile(state.vmmPidFile, "\(pid)\n")
            return VMMProcess(pid: pid)
        } catch {
            throw SupervisorError(.bootFailed, "cannot start \(path): \(error)")
        }
    }

    /// Reaps the process if it has exited (non-blocking); true while it runs.
    var isRunning: Bool {
        if termination != nil { return false }
        if let result = try? ChildProcess.wait(pid: pid, nonBlocking: true) {
            termination = result.termination
            return false
        }
        return termination == nil
    }

    /// Waits up to `timeout` for the process to exit; then SIGKILLs and reaps it.
    func waitOrKill(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < deadline { sleep(for: .milliseconds(5)) }
        if isRunning {
            try? ChildProcess.signal(pid, 9)
            if let result = try? ChildProcess.wait(pid: pid, nonBlocking: false) { termination = result.termination }
        }
    }
}
