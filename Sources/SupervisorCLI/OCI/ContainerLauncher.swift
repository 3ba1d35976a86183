import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor

/// This executable started again as a child of the current call: the per-VM supervisor (`create`, `run`) and the
/// detached exec relay. Children are in their own process group (conmon's `--timeout` kills `-pgid`), get this
/// call's stdio (the container's), and report through a ``ReadyPipe``.
enum SelfSpawn {
    static var executable: String { Files.readLink("/proc/self/exe") ?? "/proc/self/exe" }

    static var environment: [String] {
        var values: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            values.append(String(cString: pointer))
            entry += 1
        }
        return values
    }

    static var environmentDictionary: [String: String] {
        var values: [String: String] = [:]
        for item in environment {
            guard let eq = item.firstIndex(of: "=") else { continue }
            values[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return values
    }

    /// Spawns `fc-supervisor <arguments(readyFD)>` and blocks until it reports (or dies). With `terminal` (a
    /// console socket's pty slave) the child gets it as stdio and controlling terminal, in a new session.
    static func spawnAndWait(terminal: FileDescriptor? = nil,
                             _ arguments: (Int32) -> [String]) throws(RuntimeFailure) -> (pid: Int32, report: ReadyPipe.Report) {
        let pipe = try ReadyPipe.make()
        let executable = executable
        var options = SpawnOptions(arguments: [executable] + arguments(pipe.writeEnd.rawValue), environment: environment)
        if let terminal {
            options.newSession = true
            options.controllingTerminal = terminal
            options.standardInput = terminal
            options.standardOutput = terminal
            options.standardError = terminal
        } else {
            options.newProcessGroup = true
        }
        options.inheritedDescriptors = [pipe.writeEnd]
        let pid: Int32
        do { pid = try ChildProcess.spawn(options) } catch {
            pipe.close()
            throw RuntimeFailure("cannot start \(executable): \(error)")
        }
        pipe.writeEnd.close()
        let report = ReadyPipe.wait(pipe.readEnd)
        pipe.readEnd.close()
        return (pid, report)
    }

    /// Ends a child that did not get ready, and reaps it.
    static func kill(_ pid: Int32) {
        try? ChildProcess.signal(pid, SIGKILL)
        _ = try? ChildProcess.wait(pid: pid, nonBlocking: false)
    }
}

/// `create` and `run`: a container from a bundle, up to the point runc returns (contract §2, §3 "create and the
/// pid file"). Loads and checks everything first (a bad bundle leaves nothing behind), records the container,
/// spawns its supervisor, waits for `created` (or, for `run`, the workload started), then writes the pid file.
enum ContainerLauncher {
    struct Request {
        var globals: GlobalOptions
        var bundle: String
        var id: String
        var pidFile: String?
        /// `create`: the workload waits for `start`. `run`: it starts at once.
        var hold: Bool
        var consoleSocket: String?
        /// `create` and `run --detach`: a terminal needs a console socket.
        var detached: Bool
        /// `restore`: the checkpoint directory the supervisor starts from instead of booting.
        var restoreFrom: String? = nil
    }

    /// Returns the supervisor's pid, which is the container's pid.
    static func launch(_ request: Request) throws(RuntimeFailure) -> Int32 {
        let root = request.globals.root
        do { try ContainerStore.validate(id: request.id) } catch { throw RuntimeFailure(error) }
        let bundle: OCIBundle
        let configuration: RuntimeConfiguration
        do {
            bundle = try OCIBundle.load(path: request.bundle)
            configuration = try RuntimeConfiguration.load(flag: request.globals.config, environment: SelfSpawn.environmentDictionary)
        } catch {
            throw RuntimeFailure(error)
        }
        try ConsoleSocket.check(terminal: bundle.process.terminal == true, consoleSocket: request.consoleSocket,
                                detached: request.detached)
        let plan = try ContainerPlan.make(bundle: bundle, configuration: configuration, root: root, id: request.id)
        if let directory = request.restoreFrom { try CheckpointDirectory.checkRestorable(directory, plan: plan) }
        let store = ContainerStore(root: root)
        var record = ContainerState(id: request.id, pid: 0, status: .created, bundle: bundle.path, rootfs: bundle.rootfs,
                                    created: .now(), annotations: bundle.spec.annotations ?? [:])
        do { try store.create(record) } catch { throw RuntimeFailure(error) }
        let directory = StateDirectory(root: root, id: request.id)
        if request.globals.systemdCgroup { try? Files.writeAtomically(directory.path + "/" + systemdCgroupMarker, "") }

        let spawned: (pid: Int32, report: ReadyPipe.Report)
        var terminal: FileDescriptor?
        defer { terminal?.close() }
        do {
            if let path = request.consoleSocket {
                terminal = try ConsoleSocket.handOver(path: path, size: try bundle.process.execRequest(session: 0).tty
                                                                     ?? OCISpec.Process.defaultConsoleSize)
            }
            spawned = try SelfSpawn.spawnAndWait(terminal: terminal) { fd in
                request.globals.arguments + [SupervisorProcess.subcommand, "--bundle", bundle.path, "--ready-fd", String(fd)]
                    + (request.hold ? ["--hold"] : []) + (request.restoreFrom.map { ["--restore-from", $0] } ?? []) + [request.id]
            }
        } catch {
            try? store.remove(id: request.id)
            throw error as? RuntimeFailure ?? RuntimeFailure("\(error)")
        }
        guard spawned.report == .ready else {
            SelfSpawn.kill(spawned.pid)
            let message: String
            if case .failed(let text) = spawned.report {
                message = text
            } else {
                message = SupervisorLog.lastLine(directory) ?? "the supervisor exited before the container was created"
            }
            try? store.remove(id: request.id)
            throw RuntimeFailure(message)
        }
        record.pid = spawned.pid
        do throws(RuntimeFailure) {
            do { try store.save(record) } catch { throw RuntimeFailure(error) }
            if let pidFile = request.pidFile { try PidFile.write(spawned.pid, to: pidFile) }
        } catch {
            SelfSpawn.kill(spawned.pid)
            try? store.remove(id: request.id)
            throw error
        }
        return spawned.pid
    }

    /// Present in the container's directory when `create` had `--systemd-cgroup` (podman passes it on create only).
    static let systemdCgroupMarker = "systemd-cgroup"
}

/// runc's pid file: decimal, no newline (go-runc's `ReadPidFile` runs `strconv.Atoi` on the raw bytes), written
/// beside the target and renamed into place, so a reader never sees half of it.
enum PidFile {
    static func write(_ pid: Int32, to path: String) throws(RuntimeFailure) {
        guard let absolute = OCIBundle.absolutePath(path) else { throw RuntimeFailure("pid file \(path) cannot be resolved") }
        do { try Files.writeAtomically(absolute, String(pid), mode: 0o644) } catch {
            throw RuntimeFailure("cannot write pid file \(absolute): \(error)")
        }
    }
}
