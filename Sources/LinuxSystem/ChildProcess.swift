import CLinux
import Glibc

/// One resource limit (`setrlimit`) for a child.
public struct ResourceLimitValue: Sendable, Equatable {
    /// An `RLIMIT_*` value (see ``ChildProcess/resourceLimitNumber(_:)``).
    public var resource: Int32
    public var soft: UInt64
    public var hard: UInt64
    public init(resource: Int32, soft: UInt64, hard: UInt64) { self.resource = resource; self.soft = soft; self.hard = hard }
}

/// Everything the child does between fork and execve, in this order: default signal dispositions and an empty
/// mask, joining a cgroup, parent-death signal, oom_score_adj, setsid/setpgid, controlling tty, stdio, rlimits, capability bounding
/// set, groups, gid, uid, capability sets (+ambient when not root), no_new_privs, umask, chdir, execve.
public struct SpawnOptions: Sendable {
    /// argv; argv[0] is the program, searched in ``searchPath`` when it has no `/`.
    public var arguments: [String]
    /// The complete environment (`KEY=VALUE`).
    public var environment: [String]
    /// Colon-separated search path; nil means the `PATH=` entry of ``environment``, else a default.
    public var searchPath: String?
    public var workingDirectory: String?
    /// Installed as fd 0/1/2 in the child; nil leaves the parent's.
    public var standardInput: FileDescriptor?
    public var standardOutput: FileDescriptor?
    public var standardError: FileDescriptor?
    /// A terminal (pty slave) to make the controlling tty; requires ``newSession``.
    public var controllingTerminal: FileDescriptor?
    /// setsid(): new session and process group (pgid == pid).
    public var newSession = false
    /// setpgid(0,0) when not ``newSession``.
    public var newProcessGroup = false
    public var uid: UInt32?
    public var gid: UInt32?
    /// Supplementary groups (setgroups); nil leaves them.
    public var groups: [UInt32]?
    public var umask: UInt32?
    public var resourceLimits: [ResourceLimitValue] = []
    /// Capability numbers to keep (all others dropped from every set); nil leaves the kernel default.
    public var capabilities: [Int32]?
    public var noNewPrivileges = false
    /// PR_SET_PDEATHSIG in the child (e.g. SIGKILL): it dies with the thread that spawned it.
    public var parentDeathSignal: Int32?
    /// Written to /proc/self/oom_score_adj in the child (failure ignored).
    public var oomScoreAdjust: Int32?
    /// Descriptors (>= 3) the program inherits at the same numbers; every other one >= 3 is closed on exec.
    public var inheritedDescriptors: [FileDescriptor] = []
    /// An open cgroup v2 directory the child starts in (spawn stage `cgroup`), so the program and whatever it forks
    /// start inside it. A single-threaded caller's child is created there (clone3 with CLONE_INTO_CGROUP, Linux
    /// 5.7): no migration, which would wait for an RCU grace period. Otherwise, or where clone3 is filtered or
    /// missing, the child moves itself there first thing by writing the directory's `cgroup.procs`.
    public var cgroup: FileDescriptor?

    public init(arguments: [String], environment: [String] = []) {
        self.arguments = arguments
        self.environment = environment
    }
}

/// How a child ended.
public enum ProcessTermination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32, coreDumped: Bool)

    /// Decodes a raw wait status.
    public init(waitStatus status: Int32) {
        if clinux_wifsignaled(status) != 0 {
            self = .signaled(clinux_wtermsig(status), coreDumped: clinux_wcoredump(status) != 0)
        } else {
            self = .exited(clinux_wexitstatus(status))
        }
    }

    /// Shell convention: the code, or 128 + signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal, _): 128 + signal
        }
    }
}

/// Where a spawn failed: the step of the child path (or of the parent's set-up) that returned an error.
/// Its raw value is the ``SystemError/code`` that ``ChildProcess/spawn(_:)`` throws.
public enum ChildSetupStep: String, Sendable, CaseIterable {
    case fork, pipes, setsid, tty, stdio, rlimits, groups, gid, uid, capabilities
    case noNewPrivileges = "no_new_privs"
    case chdir = "cwd"
    case exec
    case parentDeathSignal = "pdeathsig"
    case oomScoreAdjust = "oom_score_adj"
    case cgroup
    /// A stage number this code does not know (a newer CLinux).
    case unknown = "spawn"

    init(clinux stage: Int32) {
        self = switch UInt32(bitPattern: stage) {
        case CLINUX_STAGE_FORK.rawValue: .fork
        case CLINUX_STAGE_PIPES.rawValue: .pipes
        case CLINUX_STAGE_SETSID.rawValue: .setsid
        case CLINUX_STAGE_TTY.rawValue: .tty
        case CLINUX_STAGE_STDIO.rawValue: .stdio
        case CLINUX_STAGE_RLIMITS.rawValue: .rlimits
        case CLINUX_STAGE_GROUPS.rawValue: .groups
        case CLINUX_STAGE_GID.rawValue: .gid
        case CLINUX_STAGE_UID.rawValue: .uid
        case CLINUX_STAGE_CAPABILITIES.rawValue: .capabilities
        case CLINUX_STAGE_NO_NEW_PRIVS.rawValue: .noNewPrivileges
        case CLINUX_STAGE_CWD.rawValue: .chdir
        case CLINUX_STAGE_EXEC.rawValue: .exec
        case CLINUX_STAGE_PDEATHSIG.rawValue: .parentDeathSignal
        case CLINUX_STAGE_OOM.rawValue: .oomScoreAdjust
        case CLINUX_STAGE_CGROUP.rawValue: .cgroup
        default: .unknown
        }
    }
}

extension SystemError {
    /// For an error thrown by ``ChildProcess/spawn(_:)``: the stage that failed (nil for argument validation).
    /// Spawn failures keep the one error type; this is their typed view.
    public var childSetupStep: ChildSetupStep? { ChildSetupStep(rawValue: code) }
}

/// Process creation, waiting and signalling.
public enum ChildProcess {
    /// The stage names reported in ``SystemError/code`` when the child failed before execve.
    public static func stageName(_ stage: Int32) -> String {
        ChildSetupStep(clinux: stage).rawValue
    }

    /// Forks and execs. Returns the pid once execve has succeeded (close-on-exec report pipe). When the child
    /// failed before execve it is reaped here and a ``SystemError`` is thrown whose `code` is the stage
    /// (`exec`, `cwd`, `uid`, `fork`, …) and whose `errno` is the failing call's (ENOENT for a missing program).
    public static func spawn(_ options: SpawnOptions) throws(SystemError) -> Int32 {
        guard !options.arguments.isEmpty else { throw SystemError("validate", errno: EINVAL, "empty argv") }
        for s in options.arguments + options.environment where s.utf8.contains(0) {
            throw SystemError("validate", errno: EINVAL, "argv/env string contains NUL")
        }
        let argv = CStringArray(options.arguments)
        defer { argv.free() }
        let envp = CStringArray(options.environment)
        defer { envp.free() }
        let search = options.searchPath
            ?? options.environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
        let groups = options.groups ?? []
        let limits = options.resourceLimits.map { clinux_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) }
        let caps = (options.capabilities ?? []).map { Int32($0) }
        let keep = options.inheritedDescriptors.map { $0.rawValue }

        var pid: pid_t = -1
        var stage: Int32 = 0
        var err: Int32 = 0
        let rc: Int32 = withOptionalCString(search) { searchPtr in
            withOptionalCString(options.workingDirectory) { cwdPtr in
                groups.withUnsafeBufferPointer { groupsPtr in
                    limits.withUnsafeBufferPointer { limitsPtr in
                        caps.withUnsafeBufferPointer { capsPtr in keep.withUnsafeBufferPointer { keepPtr in
                            var attr = clinux_spawn_attr()
                            attr.argv = UnsafePointer(argv.pointer)
                            attr.envp = UnsafePointer(envp.pointer)
                            attr.search_path = searchPtr
                            attr.cwd = cwdPtr
                            attr.stdin_fd = options.standardInput?.rawValue ?? -1
                            attr.stdout_fd = options.standardOutput?.rawValue ?? -1
                            attr.stderr_fd = options.standardError?.rawValue ?? -1
                            attr.ctty_fd = options.controllingTerminal?.rawValue ?? -1
                            attr.new_session = options.newSession ? 1 : 0
                            attr.new_process_group = options.newProcessGroup ? 1 : 0
                            if let gid = options.gid { attr.set_gid = 1; attr.gid = gid }
                            if let uid = options.uid { attr.set_uid = 1; attr.uid = uid }
                            if options.groups != nil {
                                attr.set_groups = 1
                                attr.ngroups = groupsPtr.count
                                attr.groups = groupsPtr.baseAddress
                            }
                            attr.umask = options.umask.map { Int32($0 & 0o7777) } ?? -1
                            attr.nrlimits = limitsPtr.count
                            attr.rlimits = limitsPtr.baseAddress
                            if options.capabilities != nil {
                                attr.set_caps = 1
                                attr.ncaps = capsPtr.count
                                attr.caps = capsPtr.baseAddress
                            }
                            attr.no_new_privs = options.noNewPrivileges ? 1 : 0
                            attr.parent_death_signal = options.parentDeathSignal ?? 0
                            if let adj = options.oomScoreAdjust { attr.set_oom_score_adj = 1; attr.oom_score_adj = adj }
                            attr.nkeep_fds = keepPtr.count
                            attr.keep_fds = keepPtr.baseAddress
                            attr.cgroup_fd = options.cgroup?.rawValue ?? -1
                            return clinux_spawn(&attr, &pid, &stage, &err)
                        } }
                    }
                }
            }
        }
        if rc == 0 { return pid }
        if pid > 0 { _ = try? wait(pid: pid, nonBlocking: false) }
        let name = stageName(stage)
        let program = options.arguments.first ?? ""
        throw SystemError(name, errno: err, "\(name) failed for \(program.prefix(200))")
    }

    /// Convenience for supervisors: runs `path` with `arguments` (argv[0] = path) and the given stdio, killed
    /// with `parentDeathSignal` when the spawning thread dies.
    public static func launch(_ path: String, arguments: [String], environment: [String],
                              standardInput: FileDescriptor? = nil, standardOutput: FileDescriptor? = nil,
                              standardError: FileDescriptor? = nil, newProcessGroup: Bool = false,
                              parentDeathSignal: Int32? = SIGKILL) throws(SystemError) -> Int32 {
        var options = SpawnOptions(arguments: [path] + arguments, environment: environment)
        options.standardInput = standardInput
        options.standardOutput = standardOutput
        options.standardError = standardError
        options.newProcessGroup = newProcessGroup
        options.parentDeathSignal = parentDeathSignal
        return try spawn(options)
    }

    /// `waitpid(pid, WNOHANG?)`. Returns nil when `nonBlocking` and nothing has changed state yet.
    /// Throws `ECHILD` (code `waitpid`) when there is no such child.
    public static func wait(pid: Int32 = -1, nonBlocking: Bool) throws(SystemError) -> (pid: Int32, termination: ProcessTermination)? {
        var status: Int32 = 0
        let r = try retryingOnEINTR("waitpid", "pid \(pid)") { waitpid(pid, &status, nonBlocking ? WNOHANG : 0) }
        return r == 0 ? nil : (r, ProcessTermination(waitStatus: status))
    }

    /// `kill(pid, signal)`.
    public static func signal(_ pid: Int32, _ signal: Int32) throws(SystemError) {
        guard kill(pid, signal) == 0 else { throw SystemError.last("kill", "pid \(pid) signal \(signal)") }
    }

    /// `kill(-pgid, signal)`: the whole process group.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) throws(SystemError) {
        guard pgid > 0 else { throw SystemError("kill", errno: EINVAL, "process group \(pgid)") }
        guard kill(-pgid, signal) == 0 else { throw SystemError.last("kill", "group \(pgid) signal \(signal)") }
    }

    /// Maps `nofile`, `nproc`, … to RLIMIT_* (nil when unknown).
    public static func resourceLimitNumber(_ name: String) -> Int32? {
        let v = clinux_rlimit_resource(name)
        return v < 0 ? nil : v
    }

    /// Maps `CAP_NET_BIND_SERVICE` (any case, with or without `CAP_`) to its number (nil when unknown).
    public static func capabilityNumber(_ name: String) -> Int32? {
        let lower = name.lowercased()
        let v = clinux_capability_from_name(lower.hasPrefix("cap_") ? lower : "cap_" + lower)
        return v < 0 ? nil : v
    }
}

/// A NULL-terminated `char *[]` owning strdup'ed copies.
struct CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[strings.count] = nil
    }

    func free() {
        for i in 0..<count { Glibc.free(pointer[i]) }
        pointer.deallocate()
    }
}

func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
