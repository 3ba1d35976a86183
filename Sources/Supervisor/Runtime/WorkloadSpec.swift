import VsockProtocol

/// The main workload of a VM: what `fc-supervisor run … -- CMD` starts once vm-init is ready.
public struct WorkloadSpec: Sendable {
    public var argv: [String]
    public var env: [String]
    public var cwd: String?
    public var user: String?
    public var tty: Bool
    /// Forward the supervisor's stdin to the workload (stdin EOF is forwarded too).
    public var attachStdin: Bool
    /// The complete request (an OCI bundle's `process`): when set, it is sent as is, except that the session id
    /// is the supervisor's and `stdin` follows ``attachStdin``; `argv`, `env`, `cwd`, `user` and `tty` are then
    /// only descriptive.
    public var request: ExecRequest?

    public init(argv: [String], env: [String] = [], cwd: String? = nil, user: String? = nil, tty: Bool = false,
                attachStdin: Bool = true) {
        self.argv = argv; self.env = env; self.cwd = cwd; self.user = user; self.tty = tty; self.attachStdin = attachStdin
    }

    /// The workload of an OCI bundle: `request` as ``ProcessMapping`` made it.
    public init(request: ExecRequest, attachStdin: Bool = true) {
        self.init(argv: request.argv, env: request.env ?? [], cwd: request.cwd, user: request.user,
                  tty: request.tty != nil, attachStdin: attachStdin)
        self.request = request
    }
}
