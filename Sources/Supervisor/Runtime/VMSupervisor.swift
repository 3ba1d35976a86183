import Glibc
import LinuxSystem
import VMM
import VsockProtocol
import VsockTransport

/// Supervises one VM from boot to cleanup: boots the VMM, attaches to vm-init, runs the workload with the
/// supervisor's stdio, serves the control socket, forwards signals, powers the VM off and removes its state.
///
/// Runs on one thread: a single epoll loop drives the guest connection, control clients, local stdio and
/// signals. Only the boot (API calls, vsock handshake) blocks, before the loop starts, under the boot deadline;
/// stopping never blocks it (the VMM's shutdown request is answered on the loop), so the control socket keeps
/// answering until the VM is gone.
public final class VMSupervisor {
    public let config: VMConfig
    public var stopTimeout: Duration = .seconds(10)
    /// Keep the state directory after exit (for debugging); sockets are removed regardless.
    public var keepState = false
    /// Diagnostics, one line each.
    public let log: (String) -> Void
    /// How long vm-init gets to power the VM off after `shutdown` before the VMM is asked to stop it.
    static let guestShutdownGrace: Duration = .seconds(4)
    /// How long a stop may take in all before the VMM is killed.
    static let stopBound: Duration = .seconds(10)

    /// The container the workload runs in (PROTOCOL.md `container`), sent once vm-init is ready (after `network`).
    public var container: ContainerRequest?
    /// runc's `create`: once the VM is ready the workload waits for `lifecycle start` on control.sock.
    public var holdWorkload = false
    /// Called once: with nil when the VM reached `created` (``holdWorkload``) or the workload started, else with
    /// the error that ended the boot. `create` waits for it before it writes the pid file and returns.
    public var onCreated: ((SupervisorError?) -> Void)?
    /// The OCI runtime's rule: every catchable signal the supervisor receives goes to the workload as it is (the
    /// supervisor stands in for the workload's pid), with no SIGKILL escalation on a second SIGTERM.
    public var forwardSignalsVerbatim = false

    let state: StateDirectory
    let loop: EventLoop
    var driver: (any VMMDriver)?
    var events: EventLog
    var lock: FileDescriptor?
    var mux: GuestMux?
    var control: ControlServer?
    var workload: LocalSession?
    var workloadSession: GuestSession?
    var workloadAdapter: GuestSessionAdapter?
    /// The workload held by ``holdWorkload`` until `lifecycle start`, and the answer that start is waiting for.
    var heldWorkload: WorkloadSpec?
    var pendingStartReply: ((Result<LifecycleDone, ErrorMessage>) -> Void)?
    /// The phase a `pause` left (`created` or `running`), restored by `resume`.
    var phaseBeforePause: SupervisorState.Phase?
    var exitCode: Int32?
    var stopping = false
    var forwardedSignals = 0
    var warnings = 0
    var terminal: Terminal.RawMode?
    /// TAP and namespace of this VM, when `--create-tap` / `--netns` ask for them.
    var hostNetwork: HostNetwork?
    /// Start from this checkpoint instead of booting (VMSupervisor+Restore.swift).
    public var restore: RestorePlan?
    /// Snapshot state (VMSupervisor+Snapshot.swift): the guest's generation, a checkpoint under way, restore timings.
    var snapshotState = SnapshotState()
    /// Heartbeat, stats and clock settings, and their running state (VMSupervisor+Health.swift).
    public var health = HealthSettings()
    var monitor: HealthMonitor?
    /// `--metrics-listen` (`IPV4:PORT` or `unix:PATH`; nil: off) and its server (VMSupervisor+Metrics.swift).
    public var metricsListen: String?
    var metrics: MetricsServer?
    /// Firecracker's own metrics, accumulated over scrapes (see ``FirecrackerMetrics``).
    var firecrackerMetrics = FirecrackerMetrics()

    public init(config: VMConfig, log: @escaping (String) -> Void) throws(SupervisorError) {
        do { try config.validate() } catch { throw SupervisorError(error) }
        self.config = config
        self.log = log
        state = StateDirectory(root: config.stateRoot, id: config.id)
        try state.validatePathLengths()
        do { loop = try EventLoop() } catch { throw SupervisorError(.bootFailed, "\(error)") }
        events = EventLog(directory: state, id: config.id, vmm: config.vmm)
    }

    /// Boots the VM, runs `workload` and returns the exit code the supervisor should exit with.
    public func run(_ workload: WorkloadSpec) -> Int32 {
        do {
            try prepareStateDirectory()
            try installSignalHandlers()
            try startMetrics()
            try bootAndAttach()
            self.pendingWorkload = workload
            try loop.run()
        } catch let error as SupervisorError {
            log(error.message)
            events.record(.error, message: error.message)
            exitCode = exitCode ?? error.exitCode.rawValue
            reportCreated(error)
        } catch {
            log("\(error)")
            exitCode = exitCode ?? SupervisorExitCode.bootFailed.rawValue
            reportCreated(SupervisorError(.bootFailed, "\(error)"))
        }
        tearDown()
        return exitCode ?? SupervisorExitCode.guestLost.rawValue
    }
    private var pendingWorkload: WorkloadSpec?

    // MARK: - Boot

    private func prepareStateDirectory() throws(SupervisorError) {
        lock = try state.acquire(stateRoot: config.stateRoot, id: config.id)
        cleanStaleState()
        events.update { $0.state = .booting }
    }

    /// A previous supervisor for this id died (we hold its lock now): kill its VMM if it survived, and remove
    /// its sockets so Firecracker can bind them again.
    private func cleanStaleState() {
        if let text = try? Files.readAll(state.vmmPidFile), let pid = Int32(StateDirectory.firstWord(text)),
           pid > 1, let cmdline = try? Files.readAll("/proc/\(pid)/cmdline"),
           String(decoding: cmdline, as: UTF8.self).contains(config.id) {
            log("killing VMM pid \(pid) left by a previous supervisor of \(config.id)")
            try? ChildProcess.signal(pid, SIGKILL)
        }
        for path in [state.controlSocket, state.apiSocket, state.vsockSocket, state.qmpSocket, state.channelSocket,
                     state.vmmPidFile, state.eventsFile, state.stateFile] {
            try? Files.remove(path)
        }
    }

    private func installSignalHandlers() throws(SupervisorError) {
        do {
            for signal in forwardSignalsVerbatim ? Self.relayedSignals : [SIGINT, SIGTERM, SIGHUP] {
                try loop.onSignal(signal) { [unowned self] info in self.received(signal: info.signal) }
            }
            try loop.onSignal(SIGCHLD) { [unowned self] _ in self.checkVMM() }
        } catch {
            throw SupervisorError(.bootFailed, "\(error)")
        }
        SystemControl.ignoreSignal(SIGPIPE)
    }

    private func bootAndAttach() throws(SupervisorError) {
        let deadline = Clock.deadline(after: config.bootTimeout)
        if config.network.createTap || config.network.netns != nil {
            let network = HostNetwork(config: config.network, tap: config.tap, stateDirectory: state.path,
                                      log: { [unowned self] in self.log($0) })
            hostNetwork = network
            do { try network.setUp() } catch { throw SupervisorError(error) }
            events.record(.network, message: "tap \(config.tap ?? "-") netns \(config.network.netns ?? "-")")
        }
        let driver = makeDriver()
        self.driver = driver
        let fd: FileDescriptor, leftover: [UInt8]
        do {
            try bootOrRestore(driver, deadline: deadline)
            events.record(.booted, pid: driver.process?.pid)
            events.update { $0.vmmPid = driver.process?.pid }
            (fd, leftover) = try driver.connectGuest(deadline: deadline)
        } catch {
            throw SupervisorError(error)
        }
        let connection = FramedConnection(fd: fd, loop: loop, label: "guest")
        let mux = GuestMux(connection: connection)
        self.mux = mux
        mux.onReady = { [unowned self] hello in self.guestReady(hello) }
        mux.onClosed = { [unowned self] error in self.guestClosed(error) }
        mux.onWarning = { [unowned self] message in self.warn(message) }
        do { try connection.start(initialBytes: leftover) } catch {
            throw SupervisorError(.guestUnreachable, "guest connection: \(error)")
        }
        // A restored guest starts its new connection with its own hello (PROTOCOL.md §7.5): ours answers it.
        if restore == nil { mux.sendHello() }
        // The control socket opens now, not at hello: `stop` and `ping` work on a VM stuck at boot, and exec
        // requests get a clean "not connected" until vm-init is ready.
        do {
            control = try ControlServer(path: state.controlSocket, loop: loop, host: self)
        } catch {
            warn("control socket unavailable: \(error)")
        }
        // Readiness is vm-init's hello, not the socket.
        let remaining = Clock.now().duration(to: deadline)
        loop.addTimer(after: max(remaining, .milliseconds(1))) { [unowned self] in
            guard self.mux?.guestHello == nil, !self.stopping else { return }
            self.fail(.guestUnreachable, "vm-init did not say hello within the boot deadline")
        }
    }

    private func makeDriver() -> any VMMDriver {
        var environment: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            environment.append(String(cString: pointer))
            entry += 1
        }
        var config = config
        // Firecracker's own metrics are read only by the metrics endpoint: without it, no file grows unread.
        config.firecrackerMetrics = metricsListen != nil
        return makeVMMDriver(config: config, paths: state.vmm, environment: environment)
    }

    // MARK: - Running

    private func guestReady(_ hello: Hello) {
        let bootMs = events.elapsedMs
        events.record(.ready, message: hello.agent)
        events.update {
            if !self.holdWorkload { $0.state = .running }
            $0.bootMs = (bootMs * 10).rounded() / 10
        }
        // A restored guest answers nothing but hello until it has our hello and `resume` (PROTOCOL.md §7.5): its
        // heartbeat and clock check start once it runs again (VMSupervisor+Restore.swift).
        if restore == nil {
            // The hello's clock first: a guest that came up on the wrong time (QEMU's RTC has whole seconds) is set
            // before the container and the workload are asked for, and handles the frames in that order.
            if let mux { setClockFromHello(hello, on: mux) }
            startHealthMonitor()
        }
        guard let spec = pendingWorkload, let mux else { return }
        pendingWorkload = nil
        if restore != nil { return resumeRestored(hello, on: mux) }
        configureNetwork(on: mux) { [unowned self] in
            self.prepareContainer(on: mux) { [unowned self] in self.workloadReady(spec, on: mux) }
        }
    }

    /// The guest's network, when the VM has one to configure; then `next`.
    private func configureNetwork(on mux: GuestMux, then next: @escaping () -> Void) {
        guard config.network.configuresGuest else { return next() }
        mux.configureNetwork(config.network.guestMessage(mac: config.effectiveGuestMAC)) { [unowned self] reply in
            switch reply {
            case .networkApplied(let applied):
                self.events.record(.networkApplied, message: (applied.interfaces ?? []).joined(separator: ","))
                next()
            case .refused(let error):
                self.fail(.bootFailed, "guest network configuration failed: \(error.code): \(error.message)")
            case .containerReady:
                self.fail(.bootFailed, "the guest answered network with container_ready")
            }
        }
    }

    /// The container's root (an OCI bundle's rootfs, mounts, files, hostname), when there is one; then `next`.
    /// vm-init's refusal ends the boot with its message, which for `check` is runc's own text.
    private func prepareContainer(on mux: GuestMux, then next: @escaping () -> Void) {
        guard let container else { return next() }
        mux.prepareContainer(container) { [unowned self] reply in
            switch reply {
            case .containerReady:
                self.events.record(.containerReady)
                next()
            case .refused(let error):
                self.fail(.startFailed, error.message)
            case .networkApplied:
                self.fail(.bootFailed, "the guest answered container with network_applied")
            }
        }
    }

    /// The guest is ready for the workload: start it, or hold it until `lifecycle start` (runc's `created`).
    private func workloadReady(_ spec: WorkloadSpec, on mux: GuestMux) {
        guard holdWorkload else { return startWorkload(spec, on: mux) }
        heldWorkload = spec
        events.record(.created)
        events.update { $0.state = .created }
        reportCreated(nil)
    }

    /// Tells ``onCreated`` once.
    func reportCreated(_ error: SupervisorError?) {
        guard let report = onCreated else { return }
        onCreated = nil
        report(error)
    }

    func startWorkload(_ spec: WorkloadSpec, on mux: GuestMux) {
        var size: TerminalSize?
        if spec.tty {
            size = Terminal.size(of: .standardOutput).map { TerminalSize(rows: $0.rows, cols: $0.cols) } ?? TerminalSize(rows: 24, cols: 80)
            if Terminal.isTerminal(.standardInput) {
                let terminal = Terminal.RawMode(fd: .standardInput)
                // Without raw mode keys are line-buffered and Ctrl-C stays local: degraded, not broken.
                try? terminal.enter()
                self.terminal = terminal
                try? loop.onSignal(SIGWINCH) { [unowned self] _ in
                    if let size = Terminal.size(of: .standardOutput) {
                        self.workloadSession?.resize(rows: size.rows, cols: size.cols)
                    }
                }
            }
        }
        let local = LocalSession(loop: loop, stdin: spec.attachStdin ? .standardInput : nil,
                                 stdout: .standardOutput, stderr: .standardError)
        local.onStarted = { [unowned self] pid in
            self.events.record(.started, pid: pid)
            self.events.update {
                $0.workloadPid = pid
                // The guest was ready (`running`, or `created` when held) before this `started` came; a pause
                // answered meanwhile stands, and a stop is not undone.
                switch $0.state {
                case .booting, .created: $0.state = .running
                case .paused: self.phaseBeforePause = .running
                case .running, .stopping, .stopped: break
                }
            }
            self.reportCreated(nil)
            self.answerStart(.success(LifecycleDone(action: .start, pid: pid)))
        }
        local.onFinished = { [unowned self] outcome in self.workloadFinished(outcome) }
        let adapter = GuestSessionAdapter(local: local)
        var request = ExecRequest(session: 0, argv: spec.argv, env: spec.env.isEmpty ? nil : spec.env, cwd: spec.cwd,
                                  user: spec.user, tty: size, stdin: spec.attachStdin)
        if var complete = spec.request {
            complete.stdin = spec.attachStdin
            // The bundle's console size stands unless the supervisor's own terminal says otherwise.
            if complete.tty != nil, let size { complete.tty = size }
            request = complete
        }
        let session = mux.exec(request, delegate: adapter)
        local.remote = session
        workload = local
        workloadAdapter = adapter
        workloadSession = session
    }

    func workloadFinished(_ outcome: LocalSessionOutcome) {
        switch outcome {
        case .exited(let status):
            if status.oomKilled { events.record(.oom, message: "the guest's OOM killer ended the workload") }
            events.record(.exited, exitCode: status.shellStatus,
                          message: status.signal.map { "killed by signal \($0)" + (status.oomKilled ? " (OOM)" : "") })
            events.update {
                $0.exit = status
                $0.oomKills = ($0.oomKills ?? 0) + (status.oomKilled ? 1 : 0)
            }
        case .startFailed(let failure):
            log("cannot start the workload: \(failure.message) (\(failure.stage), errno \(failure.errno))")
            events.record(.exited, exitCode: outcome.exitCode, message: "start failed: \(failure.message)")
            let error = SupervisorError(SupervisorExitCode.forStartFailure(errno: failure.errno), failure.message)
            reportCreated(error)
            answerStart(.failure(ErrorMessage(code: .internal, message: failure.message)))
        case .lost(let reason):
            log(reason)  // exit 122 must come with a reason on stderr
            events.record(.error, message: reason)
            answerStart(.failure(ErrorMessage(code: .internal, message: reason)))
        }
        // A session lost because the liveness limit gave up on the guest keeps that code (123).
        if case .lost = outcome, exitCode == SupervisorExitCode.guestUnresponsive.rawValue {} else { exitCode = outcome.exitCode }
        events.update { $0.exitCode = self.exitCode }
        beginStop(reason: "the workload ended")
    }

}
