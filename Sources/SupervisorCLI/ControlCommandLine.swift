import ArgumentParser
import Supervisor
import VsockProtocol

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the state of VM ID.")
    @OptionGroup var state: StateOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Argument var id: String

    func run() throws {
        guard let current = ControlCommands.state(stateRoot: state.stateDir, id: id) else {
            StandardError.writeLine("fc-supervisor: no VM \(id)")
            throw ExitCode(1)
        }
        if json {
            print(current.jsonText)
        } else {
            print("\(current.id)\t\(current.state)\tvmm=\(current.vmm) pid=\(current.supervisorPid) workload=\(current.workloadPid.map(String.init) ?? "-")")
        }
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the events of VM ID as JSON lines.")
    @OptionGroup var state: StateOptions
    @Flag(name: .shortAndLong, help: "Keep printing until the VM stops.") var follow = false
    @Flag(name: .long, help: "Print one runc stats event from the guest's numbers and exit.") var stats = false
    @Option(name: .long, help: "Print a runc stats event every interval (Go syntax: 5s, 500ms) until the VM stops.") var interval: String?
    @Argument var id: String
    func run() throws {
        try reportingErrors { () throws(SupervisorError) in
            if stats || interval != nil {
                return try GuestStatsStream.run(stateRoot: state.stateDir, id: id, once: stats, interval: interval ?? "5s")
            }
            try ControlCommands.events(stateRoot: state.stateDir, id: id, follow: follow)
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to the workload of VM ID.")
    @OptionGroup var state: StateOptions
    @Argument var id: String
    @Argument(help: "Signal number or name (default TERM).") var signal: String = "TERM"
    func run() throws {
        guard let number = SignalNames.number(signal) else { throw ValidationError("unknown signal \(signal)") }
        try reportingErrors { () throws(SupervisorError) in
            try ControlCommands.send(.signal(SignalRequest(session: 0, signal: number)), stateRoot: state.stateDir, id: id)
        }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the workload of VM ID and power the VM off.")
    @OptionGroup var state: StateOptions
    @Argument var id: String
    func run() throws {
        try reportingErrors { () throws(SupervisorError) in
            try ControlCommands.send(.shutdown(ShutdownRequest()), stateRoot: state.stateDir, id: id)
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the VMs under the state directory.")
    @OptionGroup var state: StateOptions
    func run() throws {
        for vm in ControlCommands.list(stateRoot: state.stateDir) { print("\(vm.id)\t\(vm.state.rawValue)\t\(vm.vmm)") }
    }
}

/// Runs a one-shot control command: a failure is one line on stderr and exit status 1.
func reportingErrors(_ body: () throws(SupervisorError) -> Void) throws {
    do { try body() } catch {
        StandardError.writeLine("fc-supervisor: \(error.message)")
        throw ExitCode(1)
    }
}
