import LinuxSystem

/// Why a transport operation failed: one error type for this layer (code, message, and the system error
/// underneath when there is one).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The peer is not there (yet): nothing listens, the handshake was refused, the deadline passed.
        case unreachable
        /// The caller's liveness check failed while waiting (e.g. the VMM exited).
        case peerGone
        /// The deadline passed while waiting for a frame.
        case timeout
        /// The peer closed the stream.
        case closed
        /// The peer sent bytes that are not a valid frame, or a frame the caller did not expect.
        case protocolViolation
        /// A system call failed.
        case system
    }

    public var code: Code
    public var message: String
    public var cause: SystemError?

    public init(_ code: Code, _ message: String, cause: SystemError? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }
}
