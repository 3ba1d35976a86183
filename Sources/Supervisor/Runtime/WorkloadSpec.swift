/// The main workload of a VM: what `fc-supervisor run … -- CMD` starts once vm-init is ready.
public struct WorkloadSpec: Sendable {
    public var argv: [String]
    public var env: [String]
    public var cwd: String?
    public var user: String?
    public var tty: Bool
    /// Forward the supervisor's stdin to the workload (stdin EOF is forwarded too).
    public var attachStdin: Bool

    public init(argv: [String], env: [String] = [], cwd: String? = nil, user: String? = nil, tty: Bool = false,
                attachStdin: Bool = true) {
        self.argv = argv; self.env = env; self.cwd = cwd; self.user = user; self.tty = tty; self.attachStdin = attachStdin
    }
}
