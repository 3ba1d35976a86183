/// Identifies one exec session on a connection. Chosen by the host; unique among live sessions.
public typealias SessionID = UInt32

/// `hello`: the first frame each side sends. Readiness is the guest's `hello`, not the socket.
public struct Hello: Sendable, Equatable {
    /// Protocol version spoken (``ProtocolConstants/version``).
    public var version: Int
    /// Who is speaking: `host`/`guest` on the guest connection, `client`/`supervisor` on `control.sock`.
    public var role: PeerRole
    /// Free-form implementation name and version, e.g. `"vm-init/0.1"`.
    public var agent: String?
    /// Optional features this side supports (e.g. `"pty"`, `"rlimits"`, `"capabilities"`).
    public var capabilities: [String]
    /// The largest frame this side accepts.
    public var limits: FrameLimits
    /// Credit (bytes) this side grants the peer per session and per stdio direction before any `window`.
    public var window: UInt32
    /// Sender's wall clock, nanoseconds since the Unix epoch.
    public var wallClockNs: Int64?
    /// Guest only: milestones since kernel start, in microseconds of CLOCK_BOOTTIME (e.g. `"main"`, `"mounted"`, `"listening"`).
    public var bootTimings: [String: UInt64]?

    public init(version: Int = ProtocolConstants.version, role: PeerRole, agent: String? = nil,
                capabilities: [String] = [], limits: FrameLimits = .default,
                window: UInt32 = ProtocolConstants.defaultWindow, wallClockNs: Int64? = nil,
                bootTimings: [String: UInt64]? = nil) {
        self.version = version; self.role = role; self.agent = agent; self.capabilities = capabilities
        self.limits = limits; self.window = window; self.wallClockNs = wallClockNs; self.bootTimings = bootTimings
    }
}

/// A resource limit applied in the child before exec.
public struct ResourceLimit: Sendable, Equatable {
    /// Lower-case name without the `RLIMIT_` prefix: `nofile`, `nproc`, `core`, `as`, `cpu`, `fsize`, `stack`, `memlock`, …
    public var resource: String
    public var soft: UInt64
    public var hard: UInt64
    public init(resource: String, soft: UInt64, hard: UInt64) { self.resource = resource; self.soft = soft; self.hard = hard }
}

/// Terminal size in character cells.
public struct TerminalSize: Sendable, Equatable {
    public var rows: UInt16
    public var cols: UInt16
    public init(rows: UInt16, cols: UInt16) { self.rows = rows; self.cols = cols }
}

/// `exec`: start a process in a new session and process group.
public struct ExecRequest: Sendable, Equatable {
    public var session: SessionID
    /// argv[0] is resolved through `PATH` (from `env`, else a default) when it has no `/`.
    public var argv: [String]
    /// `KEY=VALUE` strings; the complete environment of the process.
    public var env: [String]?
    public var cwd: String?
    /// A user name from the guest's /etc/passwd, or `uid[:gid]`. `uid`/`gid` override it.
    public var user: String?
    public var uid: UInt32?
    public var gid: UInt32?
    /// Supplementary groups. When absent and `user` names a passwd user, that user's groups from /etc/group.
    public var groups: [UInt32]?
    public var umask: UInt32?
    public var rlimits: [ResourceLimit]?
    /// Capability names (`CAP_NET_BIND_SERVICE`, …) kept in the bounding, permitted, effective and
    /// inheritable sets; all others are dropped. Absent: the kernel's default for the target uid.
    public var capabilities: [String]?
    public var noNewPrivs: Bool?
    /// When present the process gets a pseudo-terminal of this initial size (stdout and stderr merged).
    public var tty: TerminalSize?
    /// Whether the host will send `stdin` frames. When false, the process's stdin is /dev/null.
    public var stdin: Bool?
    /// The guest sends SIGKILL to the process group after this many milliseconds.
    public var timeoutMs: UInt64?
    /// The process's /proc/self/oom_score_adj (-1000…1000); absent: 0.
    public var oomScoreAdj: Int32?
    /// control.sock only (PROTOCOL.md §11): the process's stdin is the pipe passed (SCM_RIGHTS) with this frame's
    /// bytes, which the supervisor reads itself; the client sends no `stdin` frames. vm-init ignores it.
    public var stdinDescriptor: Bool?
    /// control.sock only (PROTOCOL.md §11.3): the process's stdout (stderr) goes to the pipe passed with this
    /// frame's bytes, which the supervisor writes itself; the client gets no `stdout` (`stderr`) frames.
    public var stdoutDescriptor: Bool?
    public var stderrDescriptor: Bool?

    public init(session: SessionID, argv: [String], env: [String]? = nil, cwd: String? = nil, user: String? = nil,
                uid: UInt32? = nil, gid: UInt32? = nil, groups: [UInt32]? = nil, umask: UInt32? = nil,
                rlimits: [ResourceLimit]? = nil, capabilities: [String]? = nil, noNewPrivs: Bool? = nil,
                tty: TerminalSize? = nil, stdin: Bool? = nil, timeoutMs: UInt64? = nil,
                oomScoreAdj: Int32? = nil, stdinDescriptor: Bool? = nil, stdoutDescriptor: Bool? = nil,
                stderrDescriptor: Bool? = nil) {
        self.session = session; self.argv = argv; self.env = env; self.cwd = cwd; self.user = user
        self.uid = uid; self.gid = gid; self.groups = groups; self.umask = umask; self.rlimits = rlimits
        self.capabilities = capabilities; self.noNewPrivs = noNewPrivs; self.tty = tty; self.stdin = stdin
        self.timeoutMs = timeoutMs; self.oomScoreAdj = oomScoreAdj; self.stdinDescriptor = stdinDescriptor
        self.stdoutDescriptor = stdoutDescriptor; self.stderrDescriptor = stderrDescriptor
    }

    /// The `hello` capability of a supervisor that takes ``stdinDescriptor`` on control.sock (PROTOCOL.md §11).
    public static let stdinDescriptorCapability = "stdin_descriptor"
    /// The `hello` capability of a supervisor that takes ``stdoutDescriptor`` and ``stderrDescriptor`` (§11.3).
    public static let outputDescriptorsCapability = "output_descriptors"
}

/// `started`: execve succeeded.
public struct Started: Sendable, Equatable {
    public var session: SessionID
    public var pid: Int32
    public init(session: SessionID, pid: Int32) { self.session = session; self.pid = pid }
}

/// `start_failed`: the process never ran the requested program. The session is over.
public struct StartFailed: Sendable, Equatable {
    public var session: SessionID
    /// The errno value (Linux numbering), 0 when the failure was not a syscall's.
    public var errno: Int32
    /// Where it failed (``SpawnStage``).
    public var stage: SpawnStage
    public var message: String
    public init(session: SessionID, errno: Int32, stage: SpawnStage, message: String) {
        self.session = session; self.errno = errno; self.stage = stage; self.message = message
    }
}

/// A frame that concerns one session and carries nothing else (`stdin`, `stdout`, `stderr` — whose bytes
/// are the frame's payload — and `stdin_close`, `exit_ack`, `attach`, `detach`).
public struct SessionRef: Sendable, Equatable {
    public var session: SessionID
    public init(session: SessionID) { self.session = session }
}

/// `window`: grants the peer `bytes` more credit on one session. From the host it covers the session's
/// stdout+stderr; from the guest it covers the session's stdin.
public struct WindowUpdate: Sendable, Equatable {
    public var session: SessionID
    public var bytes: UInt32
    public init(session: SessionID, bytes: UInt32) { self.session = session; self.bytes = bytes }
}

/// `signal`: deliver a signal to the session's process group.
public struct SignalRequest: Sendable, Equatable {
    public var session: SessionID
    /// Linux signal number (1–64).
    public var signal: Int32
    /// control.sock only, with session 0 (§11): the workload and every live exec session of every client get
    /// the signal (runc's `kill --all`). vm-init ignores it.
    public var all: Bool?
    public init(session: SessionID, signal: Int32, all: Bool? = nil) {
        self.session = session; self.signal = signal; self.all = all
    }
}

/// `resize`: set the session's terminal size (ignored without a tty).
public struct ResizeRequest: Sendable, Equatable {
    public var session: SessionID
    public var rows: UInt16
    public var cols: UInt16
    public init(session: SessionID, rows: UInt16, cols: UInt16) { self.session = session; self.rows = rows; self.cols = cols }
}

/// How a process ended, losslessly.
public struct ExitStatus: Sendable, Equatable {
    /// The exit code when the process exited normally.
    public var code: Int32?
    /// The signal number when it was killed by a signal.
    public var signal: Int32?
    public var coreDumped: Bool
    /// The kernel's OOM killer ended it.
    public var oomKilled: Bool
    /// Output was cut off: the drain deadline passed while something still held the output open.
    public var outputTruncated: Bool
    /// Why the guest ended the session itself, when it did: `snapshot` (``lostSnapshot``) for a session alive at
    /// a snapshot and not kept by the `resume` of the restored copy. Absent otherwise.
    public var lost: String?

    public init(code: Int32? = nil, signal: Int32? = nil, coreDumped: Bool = false, oomKilled: Bool = false,
                outputTruncated: Bool = false, lost: String? = nil) {
        self.code = code; self.signal = signal; self.coreDumped = coreDumped; self.oomKilled = oomKilled
        self.outputTruncated = outputTruncated; self.lost = lost
    }

    /// `lost` of a session ended by a snapshot restore.
    public static let lostSnapshot = "snapshot"

    /// The shell's convention: the code, or 128 + the signal.
    public var shellStatus: Int32 {
        if let signal { return 128 + signal }
        return code ?? 255
    }
}

/// `exit`: the session's process ended and all of its output has been sent (or `output_truncated`).
/// The guest retains it until `exit_ack`.
public struct ExitReport: Sendable, Equatable {
    public var session: SessionID
    public var status: ExitStatus
    public init(session: SessionID, status: ExitStatus) { self.session = session; self.status = status }
}

/// One entry of a `sessions` reply.
public struct SessionInfo: Sendable, Equatable {
    public var session: SessionID
    public var pid: Int32?
    public var state: SessionState
    public var argv0: String?
    /// Whether a connection is currently attached.
    public var attached: Bool
    public var exit: ExitStatus?
    public init(session: SessionID, pid: Int32?, state: SessionState, argv0: String?, attached: Bool, exit: ExitStatus?) {
        self.session = session; self.pid = pid; self.state = state; self.argv0 = argv0; self.attached = attached; self.exit = exit
    }
}

/// `sessions`: from the host an empty request; from the guest the list of live and retained sessions.
public struct SessionList: Sendable, Equatable {
    public var sessions: [SessionInfo]?
    public init(sessions: [SessionInfo]? = nil) { self.sessions = sessions }
}

/// `ping` / `pong`: liveness; the guest answers `ping` with `pong` carrying the same id, ahead of bulk data.
public struct Ping: Sendable, Equatable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// `set_time`: set the guest's CLOCK_REALTIME.
public struct SetTime: Sendable, Equatable {
    public var unixNs: Int64
    public init(unixNs: Int64) { self.unixNs = unixNs }
}

/// `shutdown`: terminate every process (SIGTERM, `grace_ms`, SIGKILL), sync, unmount and power off.
public struct ShutdownRequest: Sendable, Equatable {
    /// Absent: the guest's configured default. A mode that is not ``ShutdownMode/isDefined`` is refused.
    public var mode: ShutdownMode?
    public var graceMs: UInt32?
    public init(mode: ShutdownMode? = nil, graceMs: UInt32? = nil) { self.mode = mode; self.graceMs = graceMs }
}

/// `error`: something the peer sent was refused. With `session` it concerns that session only.
public struct ErrorMessage: Sendable, Equatable {
    public var code: ErrorCode
    public var message: String
    public var session: SessionID?
    public init(code: ErrorCode, message: String, session: SessionID? = nil) {
        self.code = code; self.message = message; self.session = session
    }
}

/// One interface of a `network` message, found in the guest by `mac` (preferred) or `name`.
public struct NetworkInterfaceConfig: Sendable, Equatable {
    /// Kernel interface name, e.g. `eth0`. Used when `mac` is absent.
    public var name: String?
    /// MAC address, `aa:bb:cc:dd:ee:ff` (any case).
    public var mac: String?
    /// Link MTU in bytes.
    public var mtu: UInt32?
    /// Addresses in CIDR form (`10.0.0.2/24`, `fd00::5/64`). IPv6 ones are added without duplicate detection.
    public var addresses: [String]?
    public init(name: String? = nil, mac: String? = nil, mtu: UInt32? = nil, addresses: [String]? = nil) {
        self.name = name; self.mac = mac; self.mtu = mtu; self.addresses = addresses
    }
}

/// One route of a `network` message.
public struct NetworkRoute: Sendable, Equatable {
    /// `default` (the family is the gateway's) or a CIDR prefix.
    public var destination: String
    public var gateway: String?
    /// Output interface, by MAC or name as in ``NetworkInterfaceConfig``. Absent: the kernel picks it from the gateway.
    public var interface: String?
    public var metric: UInt32?
    public init(destination: String, gateway: String? = nil, interface: String? = nil, metric: UInt32? = nil) {
        self.destination = destination; self.gateway = gateway; self.interface = interface; self.metric = metric
    }
}

/// Resolver configuration written to the guest's /etc/resolv.conf.
public struct DNSConfig: Sendable, Equatable {
    public var servers: [String]?
    public var search: [String]?
    public init(servers: [String]? = nil, search: [String]? = nil) { self.servers = servers; self.search = search }
}

/// One /etc/hosts line.
public struct HostsEntry: Sendable, Equatable {
    public var address: String
    public var names: [String]
    public init(address: String, names: [String]) { self.address = address; self.names = names }
}

/// `network`: configure the guest's interfaces, routes, resolver, /etc/hosts and hostname (a minimal guest has no
/// DHCP client). Answered by `network_applied`, or by `error` (without session) when anything failed.
public struct NetworkConfig: Sendable, Equatable {
    public var interfaces: [NetworkInterfaceConfig]?
    public var routes: [NetworkRoute]?
    public var dns: DNSConfig?
    public var hosts: [HostsEntry]?
    public var hostname: String?
    public init(interfaces: [NetworkInterfaceConfig]? = nil, routes: [NetworkRoute]? = nil, dns: DNSConfig? = nil,
                hosts: [HostsEntry]? = nil, hostname: String? = nil) {
        self.interfaces = interfaces; self.routes = routes; self.dns = dns; self.hosts = hosts; self.hostname = hostname
    }
}

/// `network_applied`: the guest applied a `network` message completely.
public struct NetworkApplied: Sendable, Equatable {
    /// The kernel names of the configured interfaces, in request order.
    public var interfaces: [String]?
    public init(interfaces: [String]? = nil) { self.interfaces = interfaces }
}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension Hello: Codable {
    enum CodingKeys: String, CodingKey {
        case version, role, agent, capabilities, limits, window
        case wallClockNs = "wall_clock_ns", bootTimings = "boot_timings"
    }
}
extension ResourceLimit: Codable {}
extension TerminalSize: Codable {}
extension ExecRequest: Codable {
    enum CodingKeys: String, CodingKey {
        case session, argv, env, cwd, user, uid, gid, groups, umask, rlimits, capabilities, tty, stdin
        case noNewPrivs = "no_new_privs", timeoutMs = "timeout_ms", oomScoreAdj = "oom_score_adj"
        case stdinDescriptor = "stdin_descriptor", stdoutDescriptor = "stdout_descriptor"
        case stderrDescriptor = "stderr_descriptor"
    }
}
extension Started: Codable {}
extension StartFailed: Codable {}
extension SessionRef: Codable {}
extension WindowUpdate: Codable {}
extension SignalRequest: Codable {}
extension ResizeRequest: Codable {}
extension ExitStatus: Codable {
    enum CodingKeys: String, CodingKey {
        case code, signal
        case coreDumped = "core_dumped", oomKilled = "oom_killed", outputTruncated = "output_truncated", lost
    }
}
extension ExitReport: Codable {
    // Flattened on the wire: {"type":"exit","session":1,"code":0,…,"status":0}
    enum CodingKeys: String, CodingKey { case session, shell = "status" }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        session = try c.decode(SessionID.self, forKey: .session)
        status = try ExitStatus(from: decoder)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(session, forKey: .session)
        try c.encode(status.shellStatus, forKey: .shell)
        try status.encode(to: encoder)
    }
}
extension SessionInfo: Codable {}
extension SessionList: Codable {}
extension Ping: Codable {}
extension SetTime: Codable {
    enum CodingKeys: String, CodingKey { case unixNs = "unix_ns" }
}
extension ShutdownRequest: Codable {
    enum CodingKeys: String, CodingKey { case mode, graceMs = "grace_ms" }
}
extension ErrorMessage: Codable {}
extension NetworkInterfaceConfig: Codable {}
extension NetworkRoute: Codable {}
extension DNSConfig: Codable {}
extension HostsEntry: Codable {}
extension NetworkConfig: Codable {}
extension NetworkApplied: Codable {}
#endif
