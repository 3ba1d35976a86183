/// What went wrong launching or driving a VMM. The supervisor maps each code to its exit code
/// (`SupervisorExitCode(vmmError:)`); nothing here knows about exit codes.
public struct VMMError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The configuration cannot boot anything (checked before launching).
        case invalidConfiguration
        /// The VMM could not be launched or configured, or it exited early.
        case bootFailed
        /// The VMM runs, but the guest's channel to vm-init never opened before the boot deadline.
        case guestUnreachable
        /// A request to a running VMM (pause, resume) was refused or not answered.
        case requestFailed
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
