import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VsockProtocol

/// The per-VM supervisor of an OCI container: the hidden subcommand `create`/`run` re-execute this binary with
/// (`fc-supervisor [globals] __supervise --bundle B --ready-fd N [--hold] ID`). It is the pid-file process:
/// it lives as long as the workload and exits with its status (contract §2), and it relays every catchable
/// signal it receives to the workload verbatim.
///
/// Its stdio are the container's, so none of its own diagnostics go there: they go to
/// `<root>/<id>/supervisor.log` (logrus text lines). Not to the `--log` file: podman parses that file as ONE
/// JSON object, so only the one error line of a failing runtime call may ever be written there.
enum SupervisorProcess {
    static let subcommand = "__supervise"

    static func main(_ globals: GlobalOptions, _ arguments: [String]) -> Int32 {
        var bundlePath: String?, readyFD: Int32?, hold = false, id: String?, restoreFrom: String?
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--bundle" where index + 1 < arguments.count: index += 1; bundlePath = arguments[index]
            case "--ready-fd" where index + 1 < arguments.count: index += 1; readyFD = Int32(arguments[index])
            case "--hold": hold = true
            case "--restore-from" where index + 1 < arguments.count: index += 1; restoreFrom = arguments[index]
            default: id = arguments[index]
            }
            index += 1
        }
        guard let bundlePath, let id, let ready = readyFD.flatMap(ReadyPipe.Writer.init(number:)) else {
            StandardError.writeLine("fc-supervisor \(subcommand): internal use only (spawned by create and run)")
            return 1
        }
        let log = SupervisorLog(StateDirectory(root: globals.root, id: id), format: globals.logFormat)
        let supervisor: VMSupervisor
        let workload: WorkloadSpec
        do {
            let bundle = try OCIBundle.load(path: bundlePath)
            let configuration = try RuntimeConfiguration.load(flag: globals.config, environment: SelfSpawn.environmentDictionary)
            let plan = try ContainerPlan.make(bundle: bundle, configuration: configuration, root: globals.root, id: id)
            workload = WorkloadSpec(request: try bundle.process.execRequest(session: 0))
            supervisor = try VMSupervisor(config: plan.vm, log: log.write)
            plan.configure(supervisor)
            if let restoreFrom {
                let checkpointed = try CheckpointWorkload.read(directory: restoreFrom)
                // A clone (another id) gets its own hostname; a restore under the same id keeps the guest's.
                supervisor.restore = RestorePlan(directory: restoreFrom, workload: checkpointed,
                                                 hostname: checkpointed.id == id ? nil : id)
            }
        } catch let error as OCIError {
            ready.failed(error.message)
            return 1
        } catch let error as RuntimeFailure {
            ready.failed(error.message)
            return 1
        } catch let error as SupervisorError {
            ready.failed(error.message)
            return 1
        } catch {
            ready.failed("\(error)")
            return 1
        }
        supervisor.keepState = true  // state survives the workload until `delete`
        supervisor.holdWorkload = hold
        supervisor.forwardSignalsVerbatim = true
        supervisor.onCreated = { error in
            if let error { ready.failed(error.message) } else { ready.ready() }
        }
        let code = supervisor.run(workload)
        if !ready.reported {
            ready.failed(log.lastLine ?? "the supervisor exited with status \(code) before the container was created")
        }
        return code
    }
}

/// `<root>/<id>/supervisor.log`: the supervisor's diagnostics, one logrus line each, text or (with the global
/// `--log-format json`) runc's JSON (`{"level":…,"msg":…,"time":…}`); `warning: …` lines have level `warning`.
final class SupervisorLog {
    let path: String
    let format: GlobalOptions.LogFormat
    private(set) var lastLine: String?

    init(_ directory: StateDirectory, format: GlobalOptions.LogFormat = .text) {
        path = directory.path + "/supervisor.log"
        self.format = format
    }

    func write(_ message: String) {
        lastLine = message
        let level = message.hasPrefix("warning: ") ? "warning" : "info"
        // The log is for people; a full disk must not stop the VM.
        try? Files.appendLine(path, RuntimeLog.line(level: level, message: message, time: .now(), format: format))
    }

    /// The last message of a supervisor that is gone (its log survives in the state directory until removed).
    static func lastLine(_ directory: StateDirectory) -> String? {
        guard let text = try? Files.readText(directory.path + "/supervisor.log", limit: 1 << 20),
              let line = text.split(separator: "\n").last else { return nil }
        if line.hasPrefix("{"), let data = try? JSONBody.decode([String: String].self, from: Array(line.utf8)) {
            return data["msg"]
        }
        guard let start = line.firstRange(of: " msg=") else { return String(line) }
        var message = String(line[start.upperBound...])
        if message.hasPrefix("\""), message.hasSuffix("\""), message.count >= 2 { message = String(message.dropFirst().dropLast()) }
        return message.replacing("\\\"", with: "\"")
    }
}
