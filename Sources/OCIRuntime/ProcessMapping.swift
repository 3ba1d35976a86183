import LinuxSystem
import VsockProtocol

/// `process` → vm-init's `exec` request. Pure: the same process always gives the same request.
///
/// What runc does where the spec leaves a field out, and what this mapping does in its place:
/// - `env` absent: an empty environment (runc sets exactly `env`); vm-init's default environment is not used.
/// - `user.uid`/`user.gid` absent: 0 (Go's zero value); `additionalGids` absent: no supplementary groups, so the
///   guest's /etc/group is never consulted (runc sets exactly `additionalGids`).
/// - `user.umask` absent: 0022, runc's default.
/// - `capabilities`: the bounding set, which vm-init applies to bounding, permitted, effective and inheritable
///   alike (the other four sets of the spec have no separate meaning on the wire); absent: the kernel's
///   default for the uid.
/// - `terminal` with no `consoleSize`: 24 rows × 80 columns; sizes above 65535 are clamped (the wire's u16).
/// - `oomScoreAdj`: checked against -1000…1000, then applied by vm-init in the child before exec.
/// - `stdin` is left unset: whether the caller sends stdin is the caller's choice, not the bundle's.
extension OCISpec.Process {
    /// runc's umask when `user.umask` is absent.
    public static let defaultUmask: UInt32 = 0o022
    /// The terminal size when `terminal` is true and `consoleSize` is absent.
    public static let defaultConsoleSize = TerminalSize(rows: 24, cols: 80)

    /// The request that starts this process as session `session`. Throws for a process no guest can start
    /// (empty args, a relative cwd, an unknown rlimit or capability): ``OCIBundle/load(path:)`` calls it, so a
    /// loaded bundle's process always maps.
    public func execRequest(session: SessionID) throws(OCIError) -> ExecRequest {
        guard let args, !args.isEmpty else { throw OCIError(.invalidProcess, "process.args must not be empty") }
        guard let cwd, !cwd.isEmpty else { throw OCIError(.invalidProcess, "process.cwd must not be empty") }
        guard cwd.hasPrefix("/") else {
            throw OCIError(.invalidProcess, "process.cwd \(quoted(cwd)) is not an absolute path")
        }
        if let oomScoreAdj, !(-1000...1000).contains(oomScoreAdj) {
            throw OCIError(.invalidProcess, "process.oomScoreAdj \(oomScoreAdj) is outside -1000…1000")
        }
        return ExecRequest(
            session: session, argv: args, env: env ?? [], cwd: cwd,
            uid: user?.uid ?? 0, gid: user?.gid ?? 0, groups: user?.additionalGids ?? [],
            umask: user?.umask ?? Self.defaultUmask,
            rlimits: try rlimits.map { limits throws(OCIError) in try limits.map(Self.resourceLimit) },
            capabilities: try capabilities.flatMap { caps throws(OCIError) in try caps.bounding.map(Self.checkedCapabilities) },
            noNewPrivs: noNewPrivileges,
            tty: terminal == true ? Self.terminalSize(consoleSize) : nil, oomScoreAdj: oomScoreAdj.map { Int32($0) })
    }

    /// `RLIMIT_NOFILE` → `nofile`; runc refuses a type it does not know, and so does this.
    static func resourceLimit(_ limit: OCISpec.Rlimit) throws(OCIError) -> ResourceLimit {
        let name = limit.type.hasPrefix("RLIMIT_") ? String(limit.type.dropFirst(7)).lowercased() : ""
        guard knownLimits.contains(name) else {
            throw OCIError(.invalidProcess, "process.rlimits: unknown type \(quoted(limit.type, limit: 40))")
        }
        guard limit.soft <= limit.hard else {
            throw OCIError(.invalidProcess, "process.rlimits: \(limit.type) soft limit \(limit.soft) is above its hard limit \(limit.hard)")
        }
        return ResourceLimit(resource: name, soft: limit.soft, hard: limit.hard)
    }

    /// The resources vm-init knows (the table in CLinux's `clinux_rlimit_resource`).
    static let knownLimits: Set<String> = [
        "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
        "rtprio", "rttime", "sigpending", "stack",
    ]

    /// The names unchanged, once each is known to libcap: vm-init would refuse an unknown one only after the VM
    /// booted, and runc 1.1 refuses it at create.
    static func checkedCapabilities(_ names: [String]) throws(OCIError) -> [String] {
        for name in names where ChildProcess.capabilityNumber(name) == nil {
            throw OCIError(.invalidProcess, "process.capabilities.bounding: unknown capability \(quoted(name, limit: 40))")
        }
        return names
    }

    static func terminalSize(_ size: OCISpec.ConsoleSize?) -> TerminalSize {
        guard let size else { return defaultConsoleSize }
        return TerminalSize(rows: UInt16(clamping: size.height), cols: UInt16(clamping: size.width))
    }
}
