import VMM

/// Exit codes of `fc-supervisor` itself, chosen so they never collide with a workload's own code in the range a
/// worker cares about: when the workload ran, the supervisor exits with the workload's code (128+n for a signal).
/// The runtime failures follow docker's convention of the 12x range.
public enum SupervisorExitCode: Int32, Sendable {
    /// Bad command line or configuration (ArgumentParser's usage errors also exit 64).
    case badArguments = 64
    /// The VMM could not be launched or configured, or the VM failed to boot (API error, VMM exited early).
    case bootFailed = 120
    /// The VM booted (or is presumed booted) but vm-init never said hello before the boot deadline.
    case guestUnreachable = 121
    /// The guest connection broke while the workload was running and the exit code was lost.
    case guestLost = 122
    /// The heartbeat's liveness limit ran out: vm-init answered no ping for that long, and the VM was stopped.
    case guestUnresponsive = 123
    /// A docker-style start failure: the runtime could not start the command.
    case startFailed = 125
    /// The command was found but could not be executed (EACCES, ENOEXEC, …).
    case notExecutable = 126
    /// The command was not found (ENOENT).
    case notFound = 127

    /// The docker-style code for a `start_failed` errno.
    public static func forStartFailure(errno: Int32) -> SupervisorExitCode {
        switch errno {
        case 2: .notFound  // ENOENT
        case 13, 8, 21, 20: .notExecutable  // EACCES, ENOEXEC, EISDIR, ENOTDIR
        default: .startFailed
        }
    }

    /// What a VMM failure means for the supervisor's exit: 64, 120 or 121.
    public init(vmmError: VMMError) {
        switch vmmError.code {
        case .invalidConfiguration: self = .badArguments
        case .bootFailed, .requestFailed: self = .bootFailed
        case .guestUnreachable: self = .guestUnreachable
        }
    }
}

/// An error that ends the supervisor with a specific exit code and a one-line message for stderr, keeping
/// the lower layer's error that caused it.
public struct SupervisorError: Error, Sendable, CustomStringConvertible {
    public var exitCode: SupervisorExitCode
    public var message: String
    public var cause: (any Error & Sendable)?
    public init(_ exitCode: SupervisorExitCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.exitCode = exitCode
        self.message = message
        self.cause = cause
    }

    /// A VMM failure, with its exit code (``SupervisorExitCode/init(vmmError:)``) and message.
    public init(_ vmmError: VMMError) {
        self.init(SupervisorExitCode(vmmError: vmmError), vmmError.message, cause: vmmError)
    }

    public var description: String { message }
}
