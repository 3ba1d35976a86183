import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VsockProtocol

/// runc's `exec` (contract §2–§3): a process in the running container, described by `--process F` (a whole
/// `specs.Process`; the other process flags are then ignored, as runc ignores them) or by the container's own
/// process with `args`, `--cwd`, `--env`, `--user`, `--tty` … applied on top.
/// Foreground: this call relays stdio and signals and exits with the session's status. `--detach`: this call
/// spawns a relay (this binary again, a child of this call) that does exactly that, waits until the process
/// started, writes the relay's pid to `--pid-file`, and exits 0; the relay exits with the session's status.
/// Runtime failures exit 255 with `exec failed: …`.
struct RuncExecCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run a process in a running container.")
    @Option(name: [.customShort("p"), .long], help: "A specs.Process JSON file.") var process: String?
    @Flag(name: [.customShort("d"), .long], help: "Return once the process started; a relay carries on.") var detach = false
    @Option(name: .long, help: "Write the relay's pid here.") var pidFile: String?
    @Option(name: .long, help: "Working directory.") var cwd: String?
    @Option(name: [.customShort("e"), .long], help: "KEY=VALUE (repeatable).") var env: [String] = []
    @Option(name: [.customShort("u"), .long], help: "uid[:gid].") var user: String?
    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "Supplementary gid (repeatable).") var additionalGids: [UInt32] = []
    @Option(name: [.customShort("c"), .long], help: "Add a capability (repeatable).") var cap: [String] = []
    @Flag(name: [.customShort("t"), .long], help: "Allocate a terminal (detached: with --console-socket).") var tty = false
    @Flag(name: .customLong("no-new-privs"), help: "Set no_new_privs.") var noNewPrivs = false
    @Flag(name: .customLong("ignore-paused"), help: "Accepted; a paused VM runs nothing until resumed.") var ignorePaused = false
    @Option(name: .long, help: "AF_UNIX socket that receives the terminal's master (detached --tty).") var consoleSocket: String?
    @Option(name: .long, help: "Refused for now.") var pidfdSocket: String?
    @Option(name: .long, help: "Only 0.") var preserveFds = 0
    @Option(name: .long, help: .hidden) var readyFd: Int32?
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough) var command: [String] = []

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let ready = readyFd.flatMap(ReadyPipe.Writer.init(number:))
        do { return try run(globals, ready: ready) } catch {
            let message = error.message.hasPrefix("exec failed: ") ? error.message : "exec failed: \(error.message)"
            // A relay reports a failure before the start to the call that spawned it, which logs it once.
            if let ready, !ready.reported {
                ready.failed(message)
                throw RuntimeFailure("", exitCode: 255)
            }
            throw RuntimeFailure(message, exitCode: 255)
        }
    }

    private func run(_ globals: GlobalOptions, ready: ReadyPipe.Writer?) throws(RuntimeFailure) -> Int32 {
        let container = try Containers.load(root: globals.root, id: id)
        switch container.status {
        case .stopped: throw RuntimeFailure("cannot exec in a stopped container")
        case .paused where !ignorePaused: throw RuntimeFailure("cannot exec in a paused container")
        default: break
        }
        if pidfdSocket != nil { throw RuntimeFailure("--pidfd-socket is not supported") }
        if preserveFds > 0 { throw RuntimeFailure("--preserve-fds is not supported: host descriptors cannot be passed into a VM") }
        let request = try execRequest(container)
        // A relay's console is already its stdio.
        if readyFd == nil { try ConsoleSocket.check(terminal: request.tty != nil, consoleSocket: consoleSocket, detached: detach) }
        if detach { return try spawnRelay(globals, tty: request.tty) }
        return try relay(request, globals: globals, container: container, ready: ready)
    }

    /// The request: from `--process`, else the container's process with this call's flags on top (runc exec.go).
    func execRequest(_ container: Container) throws(RuntimeFailure) -> ExecRequest {
        var spec: OCISpec.Process
        do {
            if let process {
                spec = try OCIBundle.loadProcess(path: process)
            } else {
                guard !command.isEmpty else { throw RuntimeFailure("exec args cannot be empty") }
                spec = try OCIBundle.load(path: container.record.bundle).process
                spec.args = command
                if let cwd { spec.cwd = cwd }
                spec.env = (spec.env ?? []) + env
                spec.terminal = tty
                if let user {
                    let parts = user.split(separator: ":", maxSplits: 1)
                    guard let uid = parts.first.flatMap({ UInt32($0) }), parts.count == 1 || UInt32(parts[1]) != nil else {
                        throw RuntimeFailure("parsing \(user) as int for uid failed")
                    }
                    spec.user = OCISpec.User(uid: uid, gid: parts.count > 1 ? UInt32(parts[1]) : 0, umask: spec.user?.umask,
                                             additionalGids: spec.user?.additionalGids)
                }
                if !additionalGids.isEmpty {
                    let gids = (spec.user?.additionalGids ?? []) + additionalGids
                    spec.user?.additionalGids = gids
                }
                if !cap.isEmpty {
                    let bounding = (spec.capabilities?.bounding ?? []) + cap
                    spec.capabilities?.bounding = bounding
                }
                if noNewPrivs { spec.noNewPrivileges = true }
            }
            return try spec.execRequest(session: 1)
        } catch let error as OCIError {
            throw RuntimeFailure(error)
        } catch let error as RuntimeFailure {
            throw error
        } catch {
            throw RuntimeFailure("\(error)")
        }
    }

    /// runc's words for a process that did not start (Go's os/exec texts, which podman maps to 127 when they
    /// say `not found` or `no such file`): only a program genuinely missing says so.
    static func startFailure(argv0: String, _ failure: StartFailed) -> String {
        let program = "exec: \"\(argv0)\": "
        guard failure.stage == .exec else { return program + failure.message }
        switch failure.errno {
        case ENOENT: return program + (argv0.contains("/") ? "stat \(argv0): no such file or directory" : "executable file not found in $PATH")
        case EACCES: return program + "permission denied"
        default: return program + failure.message
        }
    }

    /// `--detach`: this command again, without `--detach`/`--pid-file`, as a relay that reports once started.
    private func spawnRelay(_ globals: GlobalOptions, tty: TerminalSize?) throws(RuntimeFailure) -> Int32 {
        var words = ["exec"]
        if tty != nil && process == nil { words.append("--tty") }
        if let process { words += ["--process", OCIBundle.absolutePath(process) ?? process] }
        if let cwd { words += ["--cwd", cwd] }
        for e in env { words += ["--env", e] }
        if let user { words += ["--user", user] }
        for gid in additionalGids { words += ["--additional-gids", String(gid)] }
        for c in cap { words += ["--cap", c] }
        if noNewPrivs { words.append("--no-new-privs") }
        if ignorePaused { words.append("--ignore-paused") }
        // The relay never writes the --log file: this call logs its failure once (podman reads the file as one
        // object), and a failure after the start is the session's, on the relay's stderr.
        var relayGlobals = globals
        relayGlobals.log = nil
        let terminal = try consoleSocket.map { path throws(RuntimeFailure) in
            try ConsoleSocket.handOver(path: path, size: tty ?? OCISpec.Process.defaultConsoleSize)
        }
        defer { terminal?.close() }
        let spawned = try SelfSpawn.spawnAndWait(terminal: terminal) { fd in
            relayGlobals.arguments + words + ["--ready-fd", String(fd), id] + command
        }
        switch spawned.report {
        case .ready:
            if let pidFile { try PidFile.write(spawned.pid, to: pidFile) }
            return 0
        case .failed(let message):
            _ = try? ChildProcess.wait(pid: spawned.pid, nonBlocking: false)
            throw RuntimeFailure(message)
        case .died:
            SelfSpawn.kill(spawned.pid)
            throw RuntimeFailure("the exec relay exited before the process started")
        }
    }

    /// The session with this call's stdio; returns its status.
    private func relay(_ request: ExecRequest, globals: GlobalOptions, container: Container,
                       ready: ReadyPipe.Writer?) throws(RuntimeFailure) -> Int32 {
        var options = ExecOptions(argv: request.argv)
        options.request = request
        options.interactive = true
        options.tty = request.tty != nil
        options.forwardedSignals = SignalNames.forwarded
        var lastError: String?
        let client: ExecClient
        do { client = try ExecClient(stateRoot: globals.root, id: id, options: options, log: { lastError = $0 }) } catch {
            throw RuntimeFailure(error.message)
        }
        // Registered for `ps` and `kill --all` while it runs.
        let registry = container.directory.path + "/" + Container.execDirectory
        let entry = registry + "/" + String(getpid())
        try? Files.makeDirectories(registry, mode: 0o700)
        try? Files.writeAtomically(entry, "")
        defer { try? Files.remove(entry) }
        // A foreground exec stands in for its process itself (runc writes the pid file in both modes).
        let pidFile = ready == nil ? pidFile : nil
        var pidFileError: RuntimeFailure?
        client.onStarted = { _ in
            if let pidFile {
                do throws(RuntimeFailure) { try PidFile.write(getpid(), to: pidFile) } catch { pidFileError = error }
            }
            ready?.ready()
        }
        let code = client.run()
        if let pidFileError { throw pidFileError }
        switch client.outcome {
        case .exited(let status)? where status.lost != nil:
            StandardError.writeLine(lastError ?? "fc-supervisor: session lost: \(status.lost ?? "")")
            return code
        case .exited?: return code
        case .startFailed(let failure)?:
            throw RuntimeFailure("unable to start container process: " + Self.startFailure(argv0: request.argv.first ?? "", failure))
        case .lost(let reason)?:
            throw RuntimeFailure(reason)
        case nil:
            throw RuntimeFailure(lastError.map { $0.hasPrefix("fc-supervisor exec: ") ? String($0.dropFirst(20)) : $0 }
                ?? "the session ended without an exit status")
        }
    }
}
