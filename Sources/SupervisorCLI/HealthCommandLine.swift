import ArgumentParser
import LinuxSystem
import Supervisor
import VsockProtocol

/// `fc-supervisor set-time ID`: sets the guest's clock from the host's now and prints the guest clock's offset
/// that resulted (ms, guest minus host), as the supervisor measured it.
struct SetTimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-time",
                                                    abstract: "Set the guest clock of VM ID from the host's clock.")
    @OptionGroup var state: StateOptions
    @Argument var id: String
    func run() throws {
        try reportingErrors { () throws(SupervisorError) in
            let report = try ControlCommands.setGuestTime(stateRoot: state.stateDir, id: id)
            let offset = Double(report.unixNs - SystemControl.wallClockNanoseconds()) / 1e6
            print("guest clock set; guest − host now \((offset * 10).rounded() / 10) ms")
        }
    }
}

/// The direct form's `events --stats` / `--interval D`: runc's stats events from the guest's reports.
enum GuestStatsStream {
    static func run(stateRoot: String, id: String, once: Bool, interval: String) throws(SupervisorError) {
        guard let period = GoDuration.parse(interval), period > .zero else {
            throw SupervisorError(.badArguments, "invalid interval \"\(interval)\"")
        }
        while true {
            let report = try ControlCommands.guestStats(stateRoot: stateRoot, id: id)
            Output.write(GuestStatsEvent.json(id: id, report: report))
            if once { return }
            Clock.sleep(period)
            guard let current = ControlCommands.state(stateRoot: stateRoot, id: id), current.state != .stopped else { return }
        }
    }
}
