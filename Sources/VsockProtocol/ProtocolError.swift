/// Stable error codes carried by `error` frames and thrown by the codec.
///
/// A string on the wire; the constants below are part of the contract (see Protocol/PROTOCOL.md) and are
/// never renamed. Codes this build does not know decode fine and compare unequal to all of them.
public struct ErrorCode: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A frame declared a header or payload longer than the receiver's limits. Its bytes are skipped.
    public static let frameTooLarge = ErrorCode(rawValue: "frame_too_large")
    /// The header was not a UTF-8 JSON object with a string `type`.
    public static let malformedHeader = ErrorCode(rawValue: "malformed_header")
    /// The `type` was known but a required field was missing or had the wrong type or range.
    public static let invalidMessage = ErrorCode(rawValue: "invalid_message")
    /// The `type` is not one this peer understands. The connection stays up.
    public static let unknownMessage = ErrorCode(rawValue: "unknown_message")
    /// A session-level frame named a session that does not exist (or no longer does).
    public static let unknownSession = ErrorCode(rawValue: "unknown_session")
    /// `exec` reused the id of a live or retained session.
    public static let sessionExists = ErrorCode(rawValue: "session_exists")
    /// The peer sent more stdio bytes than the credit it was granted. The excess is dropped.
    public static let flowControl = ErrorCode(rawValue: "flow_control_violation")
    /// `hello` announced a protocol version this peer cannot speak.
    public static let unsupportedVersion = ErrorCode(rawValue: "unsupported_version")
    /// A message arrived in a state where it is not allowed (e.g. `stdin` after `stdin_close`).
    public static let invalidState = ErrorCode(rawValue: "invalid_state")
    /// A limit of the receiver was reached (sessions, buffered bytes, …).
    public static let resourceExhausted = ErrorCode(rawValue: "resource_exhausted")
    /// Anything else; the message says what.
    public static let `internal` = ErrorCode(rawValue: "internal")

    /// Every code defined by this protocol version.
    public static let allDefined: [ErrorCode] = [
        .frameTooLarge, .malformedHeader, .invalidMessage, .unknownMessage, .unknownSession, .sessionExists,
        .flowControl, .unsupportedVersion, .invalidState, .resourceExhausted, .internal,
    ]
}

/// An error raised by the codec or by a protocol state machine.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// The session the error concerns, when it could be determined.
    public var session: SessionID?

    public init(_ code: ErrorCode, _ message: String, session: SessionID? = nil) {
        self.code = code
        self.message = message
        self.session = session
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The `error` message that reports this error to the peer.
    public var errorMessage: ErrorMessage { ErrorMessage(code: code, message: message, session: session) }
}
