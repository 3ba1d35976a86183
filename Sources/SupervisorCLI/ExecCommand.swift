import ArgumentParser
import Supervisor

/// `fc-supervisor exec`. Its plain forms are parsed by ``ExecFastPath`` instead; SupervisorCLITests checks
/// that both parsers agree.
struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run CMD in the running VM ID.")
    @OptionGroup var state: StateOptions
    @Flag(name: [.customShort("i"), .long], help: "Keep stdin attached.") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: [.customShort("e"), .long], help: "Environment KEY=VALUE.") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory.") var workdir: String?
    @Option(name: [.customShort("u"), .long], help: "User (name or uid[:gid]).") var user: String?
    @Argument(help: "VM id.") var id: String
    @Argument(parsing: .postTerminator, help: "CMD [ARG...] after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing the command: fc-supervisor exec ID -- CMD [ARG...]") }
    }

    /// What the parsed command line asks for, in the fast path's terms.
    var invocation: ExecFastPath.Invocation {
        var options = ExecOptions(argv: command)
        options.env = env
        options.cwd = workdir
        options.user = user
        options.interactive = interactive
        options.tty = tty
        return ExecFastPath.Invocation(stateDir: state.stateDir, id: id, options: options)
    }

    func run() throws {
        let invocation = invocation
        throw ExitCode(Self.run(stateDir: invocation.stateDir, id: invocation.id, options: invocation.options))
    }

    /// Runs one session and returns the exit code (the workload's, or the supervisor's own codes).
    static func run(stateDir: String, id: String, options: ExecOptions) -> Int32 {
        do {
            return try ExecClient(stateRoot: stateDir, id: id, options: options, log: StandardError.writeLine).run()
        } catch {
            StandardError.writeLine("fc-supervisor exec: \(error.message)")
            return error.exitCode.rawValue
        }
    }
}
