/// Everything that can go wrong talking to Firecracker's API. It names what failed and keeps the underlying
/// error; what that means for the caller (an exit code, a retry) is the caller's business.
public struct FirecrackerAPIError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The API socket could not be reached (not yet bound, refused, or no open connection to reuse).
        case unreachable
        /// No complete answer before the deadline.
        case timedOut
        /// Firecracker closed the connection, or reading or writing it failed.
        case connectionFailed
        /// The bytes received are not an HTTP response.
        case malformedResponse
        /// Firecracker answered with a non-2xx status; `message` quotes its `fault_message`.
        case rejected
        /// The VMM process exited while we waited for its socket.
        case vmmExited
    }

    public var code: Code
    public var message: String
    /// The HTTP status of a `rejected` request.
    public var status: Int?
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, status: Int? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.cause = cause
    }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
