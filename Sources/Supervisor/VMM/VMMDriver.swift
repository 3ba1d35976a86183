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
