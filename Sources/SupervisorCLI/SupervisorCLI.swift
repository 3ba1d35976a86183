import ArgumentParser
import Glibc
import Supervisor
import VMM

/// `fc-supervisor`: boots one microVM per workload and serves exec sessions into it.
public struct SupervisorCLI: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fc-supervisor",
        abstract: "Run one workload in a Firecracker (or QEMU) microVM and exec into it.",
        subcommands: [Run.self, Exec.self, State.self, Events.self, Kill.self, Stop.self, List.self, SetTimeCommand.self]
    )

    public init() {}

    /// The executable's entry point: the plain forms of the direct `exec` skip ArgumentParser (see
    /// ``ExecFastPath``); everything else is runc's command line (``RuncCommandLine``), which hands the direct
    /// forms (``DirectForm``) back to this command.
    public static func runMain(_ arguments: [String] = CommandLine.arguments) -> Never {
        if arguments.count >= 2, arguments[1] == "image" { ImageHandOver.exec(arguments) }
        if let fast = ExecFastPath.parse(arguments) {
            Glibc.exit(Exec.run(stateDir: fast.stateDir, id: fast.id, options: fast.options))
        }
        Glibc.exit(RuncCommandLine.main(Array(arguments.dropFirst())))
    }
}

/// `--state-dir`, shared by every subcommand.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: "Parent directory of the per-VM state directories.")
    var stateDir: String = VMConfig.defaultStateRoot
}
