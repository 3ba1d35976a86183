/// Who speaks on a connection. A string on the wire (`hello.role`); unknown roles decode and are refused by
/// ``ConnectionState``, never by the codec.
///
/// - `host` / `guest`: the supervisor and vm-init on the guest connection (PROTOCOL.md §7).
/// - `client` / `supervisor`: an exec or control client and the supervisor on `control.sock` (PROTOCOL.md §11).
public struct PeerRole: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let host = PeerRole(rawValue: "host")
    public static let guest = PeerRole(rawValue: "guest")
    public static let client = PeerRole(rawValue: "client")
    public static let supervisor = PeerRole(rawValue: "supervisor")

    /// Every role this protocol version defines.
    public static let allDefined: [PeerRole] = [.host, .guest, .client, .supervisor]

    /// The role a peer of `self` must announce.
    public var expectedPeer: PeerRole? {
        switch self {
        case .host: .guest
        case .guest: .host
        case .client: .supervisor
        case .supervisor: .client
        default: nil
        }
    }
}

/// The PROTOCOL.md §7 connection state machine for one side of one connection, as a pure value.
///
/// Every received message goes through ``receive(_:)``, which says whether the application may act on it, or
/// which `error` to answer and whether to close afterwards:
/// - before the peer's `hello`, anything but `hello` (or `error`) is refused with `invalid_state`;
/// - a `hello` with another protocol version is refused with `unsupported_version`, then the connection closes;
/// - a `hello` whose role is not the one this side expects is refused with `invalid_state`, then it closes;
/// - a second `hello` is refused with `invalid_state` and ignored;
/// - an `error` is always delivered and never answered (two peers must not bounce errors forever).
public struct ConnectionState: Sendable {
    public enum Phase: Sendable, Equatable { case awaitingHello, open, closed }

    /// What to do with a received message.
    public enum Verdict: Sendable, Equatable {
        /// Hand the message to the application.
        case deliver
        /// Answer with this `error` and drop the message.
        case refuse(ErrorMessage)
        /// Answer with this `error`, flush it, then close the connection.
        case refuseAndClose(ErrorMessage)
    }

    public let ownRole: PeerRole
    public let peerRole: PeerRole
    public private(set) var phase: Phase = .awaitingHello
    /// The peer's `hello`, once accepted.
    public private(set) var peerHello: Hello?

    /// `peerRole` defaults to the counterpart of `ownRole` (host ↔ guest, supervisor ↔ client).
    public init(ownRole: PeerRole, peerRole: PeerRole? = nil) {
        self.ownRole = ownRole
        self.peerRole = peerRole ?? ownRole.expectedPeer ?? ownRole
    }

    public var isOpen: Bool { phase == .open }

    public mutating func receive(_ message: Message) -> Verdict {
        switch (phase, message) {
        case (.closed, _):
            return .refuse(ErrorMessage(code: .invalidState, message: "connection is closing"))
        case (_, .error):
            return .deliver
        case (.awaitingHello, .hello(let hello)):
            guard hello.version == ProtocolConstants.version else {
                phase = .closed
                return .refuseAndClose(ErrorMessage(
                    code: .unsupportedVersion,
                    message: "protocol version \(hello.version) is not supported; this peer speaks \(ProtocolConstants.version)"))
            }
            guard hello.role == peerRole else {
                phase = .closed
                return .refuseAndClose(ErrorMessage(
                    code: .invalidState,
                    message: "role \"\(hello.role)\" cannot talk to a \(ownRole); expected \"\(peerRole)\""))
            }
            peerHello = hello
            phase = .open
            return .deliver
        case (.awaitingHello, _):
            return .refuse(ErrorMessage(code: .invalidState, message: "\(message.type) before hello: send hello first",
                                        session: message.session))
        case (.open, .hello):
            return .refuse(ErrorMessage(code: .invalidState, message: "second hello ignored"))
        case (.open, _):
            return .deliver
        }
    }

    /// Marks the connection closed (EOF, error, or after a `refuseAndClose`).
    public mutating func close() { phase = .closed }
}
