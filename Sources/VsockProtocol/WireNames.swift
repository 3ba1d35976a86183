/// A string on the wire with named constants for the values this protocol version defines (``ErrorCode``,
/// ``PeerRole``, ``SpawnStage``, ``ShutdownMode``, ``SessionState``). Unknown values decode (a newer peer may
/// send them) and compare unequal to every constant; a string literal converts, so `stage == "exec"` in a test
/// reads like the wire. It encodes as the bare string.
public protocol WireName: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral
    where RawValue == String {
    init(rawValue: String)
    /// Every value this protocol version defines.
    static var allDefined: [Self] { get }
}

extension WireName {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
    /// Whether this protocol version defines the value.
    public var isDefined: Bool { Self.allDefined.contains(self) }
}

/// `start_failed.stage`: where starting the process failed. The names after `cwd` come from vm-init's spawn
/// path (`clinux_spawn_stage` in Sources/CLinux, named by `ChildProcess.stageName`); new stages may be added.
public struct SpawnStage: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The request was refused before anything ran: empty argv, zero terminal size, unknown rlimit or
    /// capability, uid 4294967295, shutting down, or (from the supervisor) no guest connection.
    public static let validate = SpawnStage(rawValue: "validate")
    /// `user` named no passwd entry, or /etc/passwd could not be read.
    public static let user = SpawnStage(rawValue: "user")
    /// Creating the pseudo-terminal (with `tty`) or the stdio pipes (without) failed.
    public static let pty = SpawnStage(rawValue: "pty")
    public static let pipes = SpawnStage(rawValue: "pipes")
    public static let fork = SpawnStage(rawValue: "fork")
    public static let setsid = SpawnStage(rawValue: "setsid")
    public static let tty = SpawnStage(rawValue: "tty")
    public static let stdio = SpawnStage(rawValue: "stdio")
    public static let rlimits = SpawnStage(rawValue: "rlimits")
    public static let groups = SpawnStage(rawValue: "groups")
    public static let gid = SpawnStage(rawValue: "gid")
    public static let uid = SpawnStage(rawValue: "uid")
    public static let capabilities = SpawnStage(rawValue: "capabilities")
    public static let noNewPrivs = SpawnStage(rawValue: "no_new_privs")
    public static let cwd = SpawnStage(rawValue: "cwd")
    public static let exec = SpawnStage(rawValue: "exec")
    public static let pdeathsig = SpawnStage(rawValue: "pdeathsig")
    public static let oomScoreAdj = SpawnStage(rawValue: "oom_score_adj")
    /// The child failed at a stage this build has no name for.
    public static let spawn = SpawnStage(rawValue: "spawn")

    /// Every stage this protocol version defines.
    public static let allDefined: [SpawnStage] = [
        .validate, .user, .pty, .pipes, .fork, .setsid, .tty, .stdio, .rlimits, .groups, .gid, .uid, .capabilities,
        .noNewPrivs, .cwd, .exec, .pdeathsig, .oomScoreAdj, .spawn,
    ]
}

/// `shutdown.mode`: how the guest ends after stopping every process.
public struct ShutdownMode: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// reboot(RB_AUTOBOOT): Firecracker exits on reset with `reboot=k`; QEMU with `-no-reboot`.
    public static let reboot = ShutdownMode(rawValue: "reboot")
    /// reboot(RB_POWER_OFF).
    public static let poweroff = ShutdownMode(rawValue: "poweroff")

    public static let allDefined: [ShutdownMode] = [.reboot, .poweroff]

    /// The mode named `name`, or nil when this version defines no such mode (a receiver answers
    /// `invalid_message`; a configuration parser refuses it).
    public init?(defined name: String) {
        guard Self.allDefined.contains(ShutdownMode(rawValue: name)) else { return nil }
        self.init(rawValue: name)
    }
}

/// `sessions[].state`: where a session listed by the guest is.
public struct SessionState: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Starting or running (a session whose `exec` is still starting is listed as running, without `pid`).
    public static let running = SessionState(rawValue: "running")
    /// The process ended; its `exit` is retained until `exit_ack`.
    public static let exited = SessionState(rawValue: "exited")

    public static let allDefined: [SessionState] = [.running, .exited]
}

#if !hasFeature(Embedded)
// `Codable` (the bare string), for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded
// headers (MessageCoding.swift). Embedded Swift has no `Codable`.
extension WireName where Self: Codable {
    public init(from decoder: any Decoder) throws { self.init(rawValue: try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

extension ErrorCode: Codable {}
extension PeerRole: Codable {}
extension SpawnStage: Codable {}
extension ShutdownMode: Codable {}
extension SessionState: Codable {}
extension FreezeMethod: Codable {}
extension LifecycleAction: Codable {}
#endif
