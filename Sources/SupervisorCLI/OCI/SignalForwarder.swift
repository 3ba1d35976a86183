import Glibc
import LinuxSystem

/// A foreground runc call's stand-in duty: relay every signal it receives to its child (the container's
/// supervisor, or an exec relay) and return that child's status, 128+n when a signal ended it (runc's
/// mapping, contract §3). Created before the child is spawned: the signals are blocked from then on, so one that
/// arrives while the VM boots is delivered to the child once it runs, not lost.
final class SignalForwarder {
    private let loop: EventLoop?
    private var child: Int32 = 0
    private var status: Int32?
    private var pending: [Int32] = []

    init() {
        loop = try? EventLoop()
        guard let loop else { return }
        for signal in SignalNames.forwarded {
            try? loop.onSignal(signal) { [unowned self] info in self.deliver(info.signal) }
        }
        try? loop.onSignal(SIGCHLD) { [unowned self] _ in self.reap() }
    }

    /// Relays signals to `pid` (this call's child) until it exits; returns its shell status.
    func forward(to pid: Int32) -> Int32 {
        child = pid
        for signal in pending { try? ChildProcess.signal(pid, signal) }
        pending = []
        reap()  // it may have exited before SIGCHLD was watched
        if status == nil, let loop { try? loop.run() }
        if status == nil, let reaped = try? ChildProcess.wait(pid: pid, nonBlocking: false) {
            status = reaped.termination.shellStatus
        }
        return status ?? 255
    }

    private func deliver(_ signal: Int32) {
        guard child > 0 else { return pending.append(signal) }
        try? ChildProcess.signal(child, signal)
    }

    private func reap() {
        guard child > 0, status == nil, let reaped = try? ChildProcess.wait(pid: child, nonBlocking: true) else { return }
        status = reaped.termination.shellStatus
        loop?.stop()
    }
}
