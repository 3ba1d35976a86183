import Glibc
import LinuxSystem
import VsockProtocol

/// How a session attached to local descriptors ended.
package enum LocalSessionOutcome: Equatable {
    case exited(ExitStatus)
    case startFailed(StartFailed)
    case lost(String)

    /// The process exit code for the CLI: the workload's, docker's 125/126/127 for start failures.
    package var exitCode: Int32 {
        switch self {
        case .exited(let status): status.shellStatus
        case .startFailed(let failure): SupervisorExitCode.forStartFailure(errno: failure.errno).rawValue
        case .lost: SupervisorExitCode.guestLost.rawValue
        }
    }
}

/// The remote end a ``LocalSession`` talks to: a guest session (for `run`) or a control-socket session (for
/// `exec`). It grants stdin credit and takes output credit back.
package protocol RemoteSession: StdinTarget {
    func outputConsumed(_ count: Int)
    func signal(_ signal: Int32)
    func resize(rows: UInt16, cols: UInt16)
}

extension GuestSession: RemoteSession {}

/// A session whose stdio is local file descriptors: the supervisor's own for `run`, the exec client's for
/// `exec`. Output is written without blocking the loop and credited back only once written; input is read only
/// while the remote grants credit; the outcome is reported after all output has been written.
package final class LocalSession {
    private unowned let loop: EventLoop
    package weak var remote: (any RemoteSession)?
    private let stdout: OutputSink
    private let stderr: OutputSink
    private var input: InputPump?
    private let forwardStdin: Bool
    private var outcome: LocalSessionOutcome?
    private var reported = false
    private(set) var pid: Int32?
    package var onStarted: (Int32) -> Void = { _ in }
    package var onFinished: (LocalSessionOutcome) -> Void = { _ in }

    package init(loop: EventLoop, stdin: FileDescriptor?, stdout: FileDescriptor, stderr: FileDescriptor) {
        self.loop = loop
        self.stdout = OutputSink(fd: stdout, loop: loop)
        self.stderr = OutputSink(fd: stderr, loop: loop)
        forwardStdin = stdin != nil
        self.stdinFD = stdin
        let drained: () -> Void = { [unowned self] in self.reportIfDone() }
        self.stdout.onDrained = drained
        self.stderr.onDrained = drained
        let consumed: (Int) -> Void = { [unowned self] n in self.remote?.outputConsumed(n) }
        self.stdout.onConsumed = consumed
        self.stderr.onConsumed = consumed
    }
    private var stdinFD: FileDescriptor?

    /// Stdin is not forwarded from here after all: the remote reads the descriptor itself (an exec client
    /// passed it to the supervisor). Call before ``started(pid:)``.
    package func stdinHandedOver() {
        stdinFD = nil
    }

    /// The process started: begin forwarding stdin.
    package func started(pid: Int32) {
        self.pid = pid
        onStarted(pid)
        guard let stdinFD, let remote, input == nil else { return }
        let pump = InputPump(fd: stdinFD, loop: loop, target: remote)
        input = pump
        pump.start()
    }

    package func output(_ bytes: [UInt8], stderr isStderr: Bool) {
        (isStderr ? stderr : stdout).write(bytes)
    }

    package func stdinCreditChanged() { input?.creditChanged() }

    package func finish(_ outcome: LocalSessionOutcome) {
        guard self.outcome == nil else { return }
        self.outcome = outcome
        input?.stop()
        reportIfDone()
    }

    /// Restores descriptor flags; call before exiting.
    package func close() {
        input?.stop()
        stdout.close()
        stderr.close()
    }

    private func reportIfDone() {
        guard !reported, let outcome, stdout.isIdle, stderr.isIdle else { return }
        reported = true
        onFinished(outcome)
    }
}

/// Adapts a ``LocalSession`` to a guest session's events (the `run` workload).
final class GuestSessionAdapter: GuestSessionDelegate {
    let local: LocalSession
    init(local: LocalSession) { self.local = local }

    func guestSessionStarted(_ session: GuestSession, pid: Int32) { local.started(pid: pid) }
    func guestSessionStartFailed(_ session: GuestSession, _ failure: StartFailed) { local.finish(.startFailed(failure)) }
    func guestSession(_ session: GuestSession, output bytes: [UInt8], stderr: Bool) { local.output(bytes, stderr: stderr) }
    func guestSessionExited(_ session: GuestSession, _ status: ExitStatus) { local.finish(.exited(status)) }
    func guestSessionStdinCredit(_ session: GuestSession) { local.stdinCreditChanged() }
    func guestSessionError(_ session: GuestSession, _ error: ErrorMessage) {}
    func guestSessionLost(_ session: GuestSession) { local.finish(.lost("the guest connection was lost")) }
}
