import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VMM

/// A runc subcommand: parsed by ArgumentParser, run with the global options parsed before it.
protocol RuncSubcommand: ParsableCommand {
    /// Runs the command and returns the exit status; failures are thrown and reported by ``RuncCommandLine``.
    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32
}

/// runc's command line (contract §1–§5): `fc-supervisor [global flags] SUBCOMMAND [flags] ID …`, so that
/// go-runc, containerd and podman can use `fc-supervisor` as `runc`.
///
/// Process model: `create` spawns the container's supervisor (this binary, `__supervise`) as its own child in
/// a new process group, with its stdio, and returns once the VM is up and the workload held; that supervisor
/// is the pid-file pid, relays catchable signals to the workload and exits with its status (128+n for a
/// signal). `<root>/<id>/` holds `oci-state.json` (what `state` prints, pid and status as recorded) beside the
/// supervisor's `state.json`, `events.jsonl`, sockets and `supervisor.log`; it stays until `delete`.
///
/// Where this differs from runc 1.1.5, and why:
/// - pids: the container's pid is its supervisor's, exec pids are their relays' (`ps` lists those); there is
///   no cgroup, so `kill --all` signals the workload and every exec session through the supervisor.
/// - `events`: stats are the VMM process's CPU time and memory on the host (see ``RuncEventsCommand``).
/// - `update`: refused unless the payload sets nothing (a VM's vCPUs and memory are fixed at create).
/// - Terminals: `--console-socket` gets a host pty's master (``ConsoleSocket``); the slave is the stdio of the
///   supervisor or exec relay, which relays it raw to the guest's own pty.
/// - Refused for now: `--preserve-fds` > 0, `--pidfd-socket`, `--rootless=true`.
/// - `checkpoint`/`restore` snapshot the VM (CheckpointCommands.swift): CRIU's flags parse; those about sockets,
///   locks and terminals have no effect (all of it is in the VM's memory); incremental and lazy ones are refused.
/// - Accepted and without effect: `--no-pivot`, `--no-new-keyring`, `--no-subreaper`, `--debug`,
///   `--systemd-cgroup` (remembered in the container's directory), `exec --ignore-paused`.
/// - `--version` prints `fc-supervisor version X` / `spec: S` (go-runc returns empty fields, no error).
struct RuncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fc-supervisor",
        abstract: "An OCI runtime (runc's command line) running each container in its own microVM.",
        discussion: """
            Global flags (before the subcommand): --root DIR (default /run/fc-supervisor), --log FILE, \
            --log-format text|json, --debug, --systemd-cgroup, --rootless false, --config FILE, --version.
            The direct form `fc-supervisor run --id ID --kernel K … -- CMD` and `exec [--state-dir D] ID -- CMD` \
            still work (see `fc-supervisor run --id x --help`).
            """,
        subcommands: [CreateCommand.self, StartCommand.self, RuncRunCommand.self, RuncExecCommand.self,
                      RuncKillCommand.self, DeleteCommand.self, RuncStateCommand.self, RuncListCommand.self,
                      PsCommand.self, RuncEventsCommand.self, PauseCommand.self, ResumeCommand.self,
                      UpdateCommand.self, FeaturesCommand.self, CheckpointCommand.self, RestoreCommand.self]
    )

    static var names: Set<String> { Set(configuration.subcommands.map { $0._commandName }) }
}

enum RuncCommandLine {
    /// The runtime's version; `--version` prints `fc-supervisor version X` and `spec: S`. go-runc's
    /// `Version()` only fills its fields when line 1 starts with `runc version `, otherwise it returns empty
    /// fields and no error (GR runc.go:755-775); podman shows the text as is.
    static let version = "0.1.0"

    /// Runs argv (without the program name) and returns the exit status.
    static func main(_ arguments: [String]) -> Int32 {
        let globals: GlobalOptions, rest: [String]
        do { (globals, rest) = try GlobalOptions.parse(arguments) } catch {
            RuntimeLog(path: nil, format: .text).error(error.message)
            return 1
        }
        let log = RuntimeLog(globals)
        if globals.version {
            print("fc-supervisor version \(version)\nspec: \(ContainerState.specVersion)")
            return 0
        }
        guard let name = rest.first else {
            print(RuncCommand.helpMessage())
            return globals.help ? 0 : 1
        }
        if name == SupervisorProcess.subcommand { return SupervisorProcess.main(globals, Array(rest.dropFirst())) }
        // `state --help`: runc's subcommand help (the direct form's is `run --id x --help`).
        if rest.count == 2, rest[1] == "--help" || rest[1] == "-h", RuncCommand.names.contains(name) {
            print(RuncCommand.helpMessage(for: subcommandType(name)))
            return 0
        }
        if !globals.any, DirectForm.matches(rest, root: globals.root) {
            SupervisorCLI.main(rest)
            return 0
        }
        if name == "help" {
            print(RuncCommand.helpMessage(for: subcommandType(rest.dropFirst().first ?? "")))
            return 0
        }
        guard RuncCommand.names.contains(name) else {
            log.error("'\(name)' is not an fc-supervisor command (checkpoint and restore are not supported yet)")
            return 1
        }
        let command: any ParsableCommand
        do { command = try RuncCommand.parseAsRoot(rest) } catch {
            if RuncCommand.exitCode(for: error) == .success {
                print(RuncCommand.fullMessage(for: error))
                return 0
            }
            // runc: "Incorrect Usage." and the command's help on stdout, the error on stderr, exit 1.
            print("Incorrect Usage.\n")
            print(RuncCommand.helpMessage(for: subcommandType(name)))
            log.error(RuncCommand.message(for: error))
            return 1
        }
        guard let subcommand = command as? any RuncSubcommand else {
            print(RuncCommand.helpMessage())
            return 0
        }
        do { return try subcommand.execute(globals) } catch {
            if !error.message.isEmpty { log.error(error.message) }
            return error.exitCode
        }
    }

    /// The subcommand called `name`, else the root command (for help texts).
    static func subcommandType(_ name: String) -> any ParsableCommand.Type {
        RuncCommand.configuration.subcommands.first { $0._commandName == name } ?? RuncCommand.self
    }
}

/// The command lines that keep their pre-OCI meaning (`fc-supervisor run --id ID --kernel K … -- CMD`,
/// `exec [--state-dir D] ID -- CMD`, `state/kill/events/list --state-dir D`, `stop`); never chosen when a global
/// flag was given. The rule, per subcommand:
/// - `stop`, `set-time`: always (runc has neither);
/// - any of them with `--state-dir` (the direct form's root flag; runc's is the global `--root`);
/// - `run` with `--` or a flag OCI `run` does not have (`--id`, `--kernel`, …);
/// - `exec` with `--` and none of OCI exec's own flags (`--process`, `--detach`, `--pid-file`, …);
/// - `state --json`, `events -f/--follow`;
/// - `state`, `kill`, `events` naming an id whose directory under the root is a direct-form VM's (it has the
///   supervisor's `state.json` but no OCI record), so `fc-supervisor kill ID TERM` keeps working for those.
enum DirectForm {
    static let ociRunFlags: Set<String> = [
        "--bundle", "-b", "--console-socket", "--detach", "-d", "--pid-file", "--no-subreaper", "--no-pivot",
        "--no-new-keyring", "--preserve-fds", "--keep", "--pidfd-socket", "--help", "-h",
    ]
    static let ociOnlyExecFlags: Set<String> = [
        "--process", "-p", "--detach", "-d", "--pid-file", "--cwd", "--console-socket", "--preserve-fds",
        "--pidfd-socket", "--ignore-paused", "--no-new-privs", "--cap", "--additional-gids", "-g", "--process-label",
        "--apparmor", "--cgroup",
    ]

    static func matches(_ arguments: [String], root: String = VMConfig.defaultStateRoot) -> Bool {
        guard let name = arguments.first else { return false }
        let words = arguments.dropFirst().prefix { $0 != "--" }
        let flags = words.filter { $0.hasPrefix("-") }.map { String($0.prefix { $0 != "=" }) }
        let terminated = arguments.contains("--")
        if name == "stop" || name == "set-time" { return true }
        guard ["run", "exec", "state", "events", "kill", "list"].contains(name) else { return false }
        if flags.contains("--state-dir") { return true }
        switch name {
        case "run": return terminated || flags.contains { !ociRunFlags.contains($0) }
        case "exec": return terminated && !flags.contains { ociOnlyExecFlags.contains($0) }
        case "state": return flags.contains("--json") || isDirectVM(words.first { !$0.hasPrefix("-") }, root: root)
        case "events": return flags.contains("-f") || flags.contains("--follow") || isDirectVM(words.first { !$0.hasPrefix("-") }, root: root)
        case "kill": return isDirectVM(words.first { !$0.hasPrefix("-") }, root: root)
        default: return false
        }
    }

    /// `<root>/<id>` holds a supervisor's state but no OCI record.
    static func isDirectVM(_ id: String?, root: String) -> Bool {
        guard let id, (try? ContainerStore.validate(id: id)) != nil else { return false }
        let directory = StateDirectory(root: root, id: id)
        return Files.exists(directory.stateFile) && !Files.exists(directory.path + "/" + ContainerStore.stateFileName)
    }
}
