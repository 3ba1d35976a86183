import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VsockProtocol

/// The create options beyond the bundle; those a VM runtime cannot honour are refused in one line, before
/// anything exists.
struct CreateOptions: ParsableArguments {
    @Option(name: .long, help: "AF_UNIX socket that receives the terminal's master (process.terminal).")
    var consoleSocket: String?
    @Option(name: .long, help: "Refused for now.") var pidfdSocket: String?
    @Option(name: .long, help: "Only 0: passing host descriptors into a VM is not implemented.") var preserveFds = 0
    @Flag(name: .long, help: "Accepted; the VM's root is always switched to the container's.") var noPivot = false
    @Flag(name: .long, help: "Accepted; the guest's keyring is the VM's own.") var noNewKeyring = false

    func check() throws(RuntimeFailure) {
        if pidfdSocket != nil { throw RuntimeFailure("--pidfd-socket is not supported") }
        if preserveFds > 0 { throw RuntimeFailure("--preserve-fds \(preserveFds) is not supported: host descriptors cannot be passed into a VM") }
    }
}

struct CreateCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a container: boot its VM, hold the workload until start.")
    @Option(name: [.customShort("b"), .long], help: "The bundle directory (default: the current directory).") var bundle = "."
    @Option(name: .long, help: "Write the container's pid (its supervisor's) here.") var pidFile: String?
    @Flag(name: .long, help: "Accepted (create always returns once the container is created).") var detach = false
    @OptionGroup var options: CreateOptions
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        do {
            try options.check()
            _ = try ContainerLauncher.launch(.init(globals: globals, bundle: bundle, id: id, pidFile: pidFile, hold: true,
                                                   consoleSocket: options.consoleSocket, detached: true))
        } catch {
            throw RuntimeFailure("fc-supervisor create failed: \(error.message)")
        }
        return 0
    }
}

struct StartCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start the workload of a created container.")
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let container = try Containers.load(root: globals.root, id: id)
        switch container.status {
        case .created: break
        case .running, .paused: throw RuntimeFailure("cannot start an already running container")
        case .stopped: throw RuntimeFailure("cannot start a container that has stopped")
        }
        try lifecycle(.start, globals, id)
        return 0
    }
}

struct PauseCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause the VM of a running container.")
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        guard try Containers.load(root: globals.root, id: id).status == .running else { throw RuntimeFailure("container not running") }
        try lifecycle(.pause, globals, id)
        return 0
    }
}

struct ResumeCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume the VM of a paused container.")
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        guard try Containers.load(root: globals.root, id: id).status == .paused else { throw RuntimeFailure("container not paused") }
        try lifecycle(.resume, globals, id)
        return 0
    }
}

/// One `lifecycle` request on the container's control socket; the supervisor's refusal text is runc's.
private func lifecycle(_ action: LifecycleAction, _ globals: GlobalOptions, _ id: String) throws(RuntimeFailure) {
    do { _ = try ControlCommands.lifecycle(action, stateRoot: globals.root, id: id) } catch {
        throw RuntimeFailure(error.message.hasPrefix("invalid_state: ") ? String(error.message.dropFirst(15)) : error.message)
    }
}

struct RuncRunCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and start a container; in the foreground, exit with its status.")
    @Option(name: [.customShort("b"), .long], help: "The bundle directory (default: the current directory).") var bundle = "."
    @Option(name: .long, help: "Write the container's pid (its supervisor's) here.") var pidFile: String?
    @Flag(name: [.customShort("d"), .long], help: "Return once the workload started.") var detach = false
    @Flag(name: .long, help: "Keep the container's state after a foreground run.") var keep = false
    @Flag(name: .customLong("no-subreaper"), help: "Accepted (the supervisor is this call's own child).") var noSubreaper = false
    @OptionGroup var options: CreateOptions
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        // Signals that arrive while the VM boots are queued and forwarded once the supervisor runs.
        let forwarder = detach ? nil : SignalForwarder()
        let pid: Int32
        do {
            try options.check()
            pid = try ContainerLauncher.launch(.init(globals: globals, bundle: bundle, id: id, pidFile: pidFile, hold: false,
                                                     consoleSocket: options.consoleSocket, detached: detach))
        } catch {
            throw RuntimeFailure("fc-supervisor run failed: \(error.message)")
        }
        guard let forwarder else { return 0 }
        let status = forwarder.forward(to: pid)
        if !keep { try? ContainerStore(root: globals.root).remove(id: id) }
        return status
    }
}

struct RuncKillCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal to the container's workload.")
    @Flag(name: [.customShort("a"), .long], help: "The workload and every exec session.") var all = false
    @Argument var id: String
    @Argument(help: "Number, NAME or SIGNAME (default SIGTERM).") var signal = "SIGTERM"

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let container = try Containers.load(root: globals.root, id: id)
        guard let number = SignalNames.number(signal) else { throw RuntimeFailure("unknown signal \"\(signal)\"") }
        guard container.status != .stopped else {
            if all { return 0 }
            throw RuntimeFailure("container not running")
        }
        try Signalling.signal(container, number, all: all, root: globals.root)
        return 0
    }
}

struct DeleteCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a stopped (or, with --force, any) container.")
    @Flag(name: [.customShort("f"), .long], help: "Kill it first if it runs; succeed if it does not exist.") var force = false
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let store = ContainerStore(root: globals.root)
        let container: Container
        do { container = try Containers.load(root: globals.root, id: id) } catch {
            guard force else { throw error }
            // runc removes a leftover directory and succeeds (podman calls `delete --force` twice).
            if (try? ContainerStore.validate(id: id)) != nil { try? Files.removeTree(store.directory(for: id)) }
            return 0
        }
        switch container.status {
        case .stopped:
            // The workload has ended; its supervisor may still be powering the VM off: let it finish first.
            if container.pid > 0, !Containers.waitGone(container.pid, id: id, timeout: .seconds(10)) {
                try? ChildProcess.signal(container.pid, SIGKILL)
                _ = Containers.waitGone(container.pid, id: id, timeout: .seconds(2))
            }
        case .created: try Signalling.stop(container, root: globals.root)
        case .running, .paused:
            guard force else { throw RuntimeFailure("cannot delete container \(id) that is not stopped: \(container.status.rawValue)") }
            try Signalling.stop(container, root: globals.root)
        }
        for pid in container.execPids { try? ChildProcess.signal(pid, SIGKILL) }
        do { try store.remove(id: id) } catch { throw RuntimeFailure(error) }
        return 0
    }
}

/// How signals reach a container's workload.
enum Signalling {
    /// `kill ID SIG`: once the workload runs, through the control socket (the guest signals it, and the
    /// supervisor exits with its status); a created container's held workload has no process yet, so the
    /// signal goes to the supervisor, which then stops with 128+SIG. Should the control socket be gone, the
    /// supervisor gets the signal directly (it relays catchable ones; SIGKILL ends it and its VM).
    /// `all`: the workload and every exec session (the supervisor's `signal.all`).
    static func signal(_ container: Container, _ signal: Int32, all: Bool = false, root: String) throws(RuntimeFailure) {
        if container.status == .running || container.status == .paused {
            let request = SignalRequest(session: 0, signal: signal, all: all ? true : nil)
            if (try? ControlCommands.send(.signal(request), stateRoot: root, id: container.record.id)) != nil { return }
        }
        // Never kill(0) or kill(-1): a pid of 0 means no supervisor was ever recorded.
        guard container.pid > 0 else { throw RuntimeFailure("container not running") }
        do { try ChildProcess.signal(container.pid, signal) } catch where error.errno == ESRCH {
            throw RuntimeFailure("container not running")
        } catch {
            throw RuntimeFailure("cannot signal container \(container.record.id): \(error)")
        }
    }

    /// runc's `delete --force`: SIGKILL, then poll every 100 ms for 10 s; a supervisor still there is killed
    /// outright (its VMM dies with it, by PR_SET_PDEATHSIG).
    static func stop(_ container: Container, root: String) throws(RuntimeFailure) {
        if container.status == .paused { _ = try? ControlCommands.lifecycle(.resume, stateRoot: root, id: container.record.id) }
        try? signal(container, container.status == .created ? SIGTERM : SIGKILL, root: root)
        if Containers.waitGone(container.pid, id: container.record.id, timeout: .seconds(10)) { return }
        guard container.pid > 0 else { return }
        try? ChildProcess.signal(container.pid, SIGKILL)
        guard Containers.waitGone(container.pid, id: container.record.id, timeout: .seconds(2)) else {
            throw RuntimeFailure("container init still running")
        }
    }
}
