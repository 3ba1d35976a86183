import ArgumentParser
import Supervisor
import VMM

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Boot a VM, run CMD in it, exit with its exit code.")

    @Option(name: .long, help: "VM id (1–64 letters, digits, '_', '+', '-' or '.').") var id: String
    @OptionGroup var state: StateOptions
    @OptionGroup var machine: MachineOptions
    @OptionGroup var network: NetworkOptions
    @OptionGroup var jailer: JailerOptions
    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL when stopping the workload.") var stopTimeout: Double = 10
    @Option(name: [.customShort("e"), .long], help: "Environment KEY=VALUE for the workload.") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory in the guest.") var workdir: String?
    @Option(name: [.customShort("u"), .long], help: "User in the guest (name or uid[:gid]).") var user: String?
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Flag(name: .long, help: "Keep the state directory after exit.") var keepState = false
    @Option(name: .long, help: "Seconds between heartbeat pings to vm-init (0: off); one unanswered for a whole interval makes the VM unresponsive.") var heartbeatInterval: Double = 2
    @Option(name: .long, help: "Stop the VM with exit code 123 once vm-init has answered no ping for this many seconds (default: never).") var livenessTimeout: Double?
    @Option(name: .long, help: "Seconds between checks of the guest clock against the host's (0: only at boot and on set-time).") var clockCheckInterval: Double = 60
    @Option(name: .long, help: "Milliseconds the guest clock may drift before a check sets it.") var clockDriftThreshold: Double = 100
    @Option(name: .long, help: "Serve Prometheus metrics on IPV4:PORT or unix:PATH (off by default).") var metricsListen: String?
    @Argument(parsing: .postTerminator, help: "The workload: CMD [ARG...] after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing the workload: fc-supervisor run … -- CMD [ARG...]") }
        if let problem = healthSettings.problem { throw ValidationError(problem) }
    }

    var healthSettings: HealthSettings {
        HealthSettings(heartbeatInterval: .milliseconds(Int64((heartbeatInterval * 1000).rounded())),
                       livenessTimeout: livenessTimeout.map { .milliseconds(Int64(($0 * 1000).rounded())) },
                       clockCheckInterval: .milliseconds(Int64((clockCheckInterval * 1000).rounded())),
                       clockDriftThreshold: .microseconds(Int64((clockDriftThreshold * 1000).rounded())))
    }

    func run() throws {
        var config = VMConfig(id: id)
        config.stateRoot = state.stateDir
        machine.apply(to: &config)
        network.apply(to: &config)
        jailer.apply(to: &config, netns: network.netns)
        let supervisor: VMSupervisor
        do {
            supervisor = try VMSupervisor(config: config, log: { StandardError.writeLine("fc-supervisor: \($0)") })
        } catch {
            StandardError.writeLine("fc-supervisor: \(error.message)")
            throw ExitCode(error.exitCode.rawValue)
        }
        supervisor.stopTimeout = .milliseconds(Int64(stopTimeout * 1000))
        supervisor.keepState = keepState
        supervisor.health = healthSettings
        supervisor.metricsListen = metricsListen
        throw ExitCode(supervisor.run(WorkloadSpec(argv: command, env: env, cwd: workdir, user: user, tty: tty)))
    }
}
