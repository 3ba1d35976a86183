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
public final class VMSupervisor: ControlHost {
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

    private let state: StateDirectory
    private let loop: EventLoop
    private var driver: (any VMMDriver)?
    private var events: EventLog
    private var lock: FileDescriptor?
    private var mux: GuestMux?
    private var control: ControlServer?
    private var workload: LocalSession?
    private var workloadSession: GuestSession?
    private var workloadAdapter: GuestSessionAdapter?
    private var exitCode: Int32?
    private var stopping = false
    private var forwardedSignals = 0
    private var warnings = 0
    private var terminal: Terminal.RawMode?
    /// TAP and namespace of this VM, when `--create-tap` / `--netns` ask for them.
    private var hostNetwork: HostNetwork?

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
            try bootAndAttach()
            self.pendingWorkload = workload
            try loop.run()
        } catch let error as SupervisorError {
            log(error.message)
            events.record(.error, message: error.message)
            exitCode = exitCode ?? error.exitCode.rawValue
        } catch {
            log("\(error)")
            exitCode = exitCode ?? SupervisorExitCode.bootFailed.rawValue
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
            for signal in [SIGINT, SIGTERM, SIGHUP] {
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
            try driver.boot(deadline: deadline)
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
        mux.sendHello()
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
        return makeVMMDriver(config: config, paths: state.vmm, environment: environment)
    }

    // MARK: - Running

    private func guestReady(_ hello: Hello) {
        let bootMs = events.elapsedMs
        events.record(.ready, message: hello.agent)
        events.update {
            $0.state = .running
            $0.bootMs = (bootMs * 10).rounded() / 10
        }
        guard let spec = pendingWorkload, let mux else { return }
        pendingWorkload = nil
        guard config.network.configuresGuest else { return startWorkload(spec, on: mux) }
        // The workload starts once the guest's network is configured.
        mux.configureNetwork(config.network.guestMessage(mac: config.effectiveGuestMAC)) { [unowned self] reply in
            switch reply {
            case .applied(let applied):
                self.events.record(.networkApplied, message: (applied.interfaces ?? []).joined(separator: ","))
                self.startWorkload(spec, on: mux)
            case .refused(let error):
                self.fail(.bootFailed, "guest network configuration failed: \(error.code): \(error.message)")
            }
        }
    }

    private func startWorkload(_ spec: WorkloadSpec, on mux: GuestMux) {
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
            self.events.update { $0.workloadPid = pid }
        }
        local.onFinished = { [unowned self] outcome in self.workloadFinished(outcome) }
        let adapter = GuestSessionAdapter(local: local)
        let request = ExecRequest(session: 0, argv: spec.argv, env: spec.env.isEmpty ? nil : spec.env, cwd: spec.cwd,
                                  user: spec.user, tty: size, stdin: spec.attachStdin)
        let session = mux.exec(request, delegate: adapter)
        local.remote = session
        workload = local
        workloadAdapter = adapter
        workloadSession = session
    }

    private func workloadFinished(_ outcome: LocalSessionOutcome) {
        switch outcome {
        case .exited(let status):
            events.record(.exited, exitCode: status.shellStatus,
                          message: status.signal.map { "killed by signal \($0)" + (status.oomKilled ? " (OOM)" : "") })
        case .startFailed(let failure):
            log("cannot start the workload: \(failure.message) (\(failure.stage), errno \(failure.errno))")
            events.record(.exited, exitCode: outcome.exitCode, message: "start failed: \(failure.message)")
        case .lost(let reason):
            log(reason)  // exit 122 must come with a reason on stderr
            events.record(.error, message: reason)
        }
        exitCode = outcome.exitCode
        events.update { $0.exitCode = outcome.exitCode }
        beginStop(reason: "the workload ended")
    }

    // MARK: - ControlHost

    /// The guest connection for new exec sessions: none once the VM is stopping.
    var guestMux: GuestMux? { stopping ? nil : mux }

    func signalWorkload(_ signal: Int32) {
        workloadSession?.signal(signal)
    }

    func requestStop(reason: String) {
        if let session = workloadSession, !session.finished {
            // Like SIGTERM to the supervisor: the workload gets SIGTERM, then SIGKILL after the stop timeout.
            forward(SIGTERM)
        } else {
            beginStop(reason: reason)
        }
    }

    // MARK: - Signals

    private func received(signal: Int32) {
        guard let session = workloadSession, !session.finished else {
            // Nothing to forward to (still booting, or already stopping): stop now.
            if exitCode == nil { exitCode = 128 + signal }
            beginStop(reason: "signal \(signal)")
            return
        }
        forward(signal)
    }

    private func forward(_ signal: Int32) {
        guard let session = workloadSession else { return }
        forwardedSignals += 1
        if forwardedSignals > 1 && (signal == SIGTERM || signal == SIGINT) {
            log("second stop request: killing the workload")
            session.signal(SIGKILL)
            return
        }
        session.signal(signal)
        if signal == SIGTERM || signal == SIGINT {
            loop.addTimer(after: stopTimeout) { [weak session, unowned self] in
                guard let session, !session.finished else { return }
                session.signal(SIGKILL)
                // A guest that ignores SIGKILL too (hung or hostile) must not hold the supervisor forever.
                self.loop.addTimer(after: .seconds(5)) { [weak session, unowned self] in
                    guard let session, !session.finished else { return }
                    self.fail(.guestLost, "the guest did not report the workload's exit after SIGKILL")
                }
            }
        }
    }

    // MARK: - Stop

    private func beginStop(reason: String) {
        guard !stopping else { return }
        stopping = true
        events.record(.stopping, message: reason)
        events.update { $0.state = .stopping }
        // The control socket stays open until teardown: `state`, `ping` and `kill` still get answers.
        if let mux, mux.isReady {
            mux.shutdown(graceMs: 2000)
            // vm-init powers the VM off within its grace; one that does not (hung, hostile) gets the VMM's request.
            loop.addTimer(after: Self.guestShutdownGrace) { [unowned self] in self.askVMMToStop() }
        } else {
            askVMMToStop()
        }
        // The VMM exits once the guest is off: wait for that, bounded; teardown kills a VMM still running.
        loop.addTimer(after: Self.stopBound) { [unowned self] in self.loop.stop() }
        checkVMM()
    }

    /// The VMM's own shutdown request; it never blocks the loop (``VMMDriver/requestGuestShutdown(on:log:)``).
    private func askVMMToStop() {
        guard let driver, driver.process?.isRunning == true else { return }
        events.record(.stopping, message: "asking the VMM to shut the guest down")
        driver.requestGuestShutdown(on: loop, log: { [unowned self] in self.log($0) })
    }

    private func checkVMM() {
        guard let process = driver?.process, !process.isRunning else { return }
        if !stopping {
            let how = process.termination.map { "\($0)" } ?? "unknown"
            fail(.guestLost, "the VMM exited unexpectedly (\(how))")
            return
        }
        // Let queued local output drain before leaving.
        if workload.map({ _ in exitCode != nil }) ?? true { loop.stop() }
    }

    private func guestClosed(_ error: SystemError?) {
        guard !stopping else {
            // The workload's session ends first (lost with the connection); still say why the connection went.
            if let error { log("the guest connection closed: \(error)") }
            return
        }
        fail(.guestLost, "the guest connection closed" + (error.map { ": \($0)" } ?? ""))
    }

    private func fail(_ code: SupervisorExitCode, _ message: String) {
        log(message)
        events.record(.error, message: message)
        if exitCode == nil { exitCode = code.rawValue }
        beginStop(reason: message)
    }

    private func warn(_ message: String) {
        warnings += 1
        if warnings <= 20 { log("warning: \(message)") }
        if warnings == 20 { log("warning: further guest warnings suppressed") }
    }

    private func tearDown() {
        terminal?.restore()
        workload?.close()
        control?.close()
        if let process = driver?.process {
            process.waitOrKill(timeout: stopping ? .seconds(2) : .zero)
        }
        driver?.cleanup()
        hostNetwork?.tearDown()
        events.record(.stopped, exitCode: exitCode)
        events.update {
            $0.state = .stopped
            $0.exitCode = exitCode
        }
        if keepState {
            for path in [state.controlSocket, state.apiSocket, state.vsockSocket] { try? Files.remove(path) }
        } else {
            do { try Files.removeTree(state.path) } catch { warn("cannot remove \(state.path): \(error)") }
        }
        lock?.close()
    }
}
