import Glibc
import LinuxSystem
import VMM
import VsockProtocol

/// What control clients and signals may do to a running VM: signal the workload, stop the VM, and runc's
/// lifecycle (start a held workload, pause, resume).
extension VMSupervisor: ControlHost {
    /// The guest connection for new exec sessions: none once the VM is stopping.
    var guestMux: GuestMux? { stopping ? nil : mux }

    func signalWorkload(_ signal: Int32, all: Bool) {
        deliver(signal, all: all)
    }

    func requestStop(reason: String) {
        if let session = workloadSession, !session.finished {
            // Like SIGTERM to the supervisor: the workload gets SIGTERM, then SIGKILL after the stop timeout.
            terminate(session, with: SIGTERM)
        } else {
            beginStop(reason: reason)
        }
    }

    func lifecycle(_ request: LifecycleRequest, reply: @escaping (Result<LifecycleDone, ErrorMessage>) -> Void) {
        let action = request.action
        let phase = events.current.state
        func refuse(_ text: String) { reply(.failure(ErrorMessage(code: .invalidState, message: text))) }
        switch action {
        case .start:
            switch phase {
            case .created where heldWorkload != nil:
                guard let spec = heldWorkload, let mux, mux.isReady else { return refuse("the guest is not connected") }
                heldWorkload = nil
                pendingStartReply = reply
                startWorkload(spec, on: mux)
            case .booting: refuse("cannot start a container that is not created yet")
            case .created, .running, .paused: refuse("cannot start an already running container")
            case .stopping, .stopped: refuse("cannot start a container that has stopped")
            }
        case .pause:
            // runc pauses a created container as well as a running one.
            guard phase == .running || phase == .created, !stopping, let driver else { return refuse("container not running") }
            driver.setPaused(true, on: loop) { [unowned self] error in
                if let error { return reply(.failure(ErrorMessage(code: .internal, message: error.message))) }
                guard !self.stopping else { return refuse("container not running") }
                self.phaseBeforePause = phase
                self.events.record(.paused)
                self.events.update { $0.state = .paused }
                reply(.success(LifecycleDone(action: .pause)))
            }
        case .resume:
            guard phase == .paused else { return refuse("container not paused") }
            resumeVM { error in
                if let error { return reply(.failure(ErrorMessage(code: .internal, message: error.message))) }
                reply(.success(LifecycleDone(action: .resume)))
            }
        case .checkpoint:
            checkpoint(request, reply: reply)
        default:
            reply(.failure(ErrorMessage(code: .invalidMessage, message: "lifecycle action \"\(action)\" is not defined")))
        }
    }

    /// Resumes a paused VM and restores the phase the pause left.
    func resumeVM(completion: @escaping (VMMError?) -> Void) {
        guard let driver else { return completion(VMMError(.requestFailed, "no VMM")) }
        driver.setPaused(false, on: loop) { [unowned self] error in
            if error == nil, self.events.current.state == .paused {
                self.events.record(.resumed)
                self.events.update { $0.state = self.phaseBeforePause ?? .running }
                self.phaseBeforePause = nil
            }
            completion(error)
        }
    }

    /// Answers a `lifecycle start` waiting for the workload's `started` (or its failure), once.
    func answerStart(_ result: Result<LifecycleDone, ErrorMessage>) {
        guard let reply = pendingStartReply else { return }
        pendingStartReply = nil
        reply(result)
    }

    // MARK: - Signals

    /// What an OCI supervisor relays (``forwardSignalsVerbatim``): every catchable signal but those it needs for
    /// itself, as runc's foreground `run` does: SIGCHLD (its VMM), SIGPIPE (ignored: a closed stdout reader must
    /// not kill it), SIGWINCH and SIGURG (runc does not forward them either). Real-time signals 34–64 included.
    static let relayedSignals: [Int32] = (1...31).filter { ![SIGKILL, SIGSTOP, SIGCHLD, SIGPIPE, SIGWINCH, SIGURG].contains($0) }
        + Array(34...64)

    /// Whether a signal's default action ends a process (what a created container's init does with it).
    static func terminates(_ signal: Int32) -> Bool {
        ![SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH].contains(signal)
    }

    func received(signal: Int32) {
        if forwardSignalsVerbatim { return deliver(signal, all: false) }
        guard let session = workloadSession, !session.finished else {
            // Nothing to forward to (still booting, or already stopping): stop now.
            if exitCode == nil { exitCode = 128 + signal }
            beginStop(reason: "signal \(signal)")
            return
        }
        forward(signal, to: session)
    }

    /// A signal for the workload as runc's `kill` delivers it (and as the pid-file process relays it).
    func deliver(_ signal: Int32, all: Bool) {
        guard let session = workloadSession, !session.finished else {
            // Not started (runc's `created`) or already ended. A created container's init dies of a terminating
            // signal without ever running the program; so does the VM here, with the shell's status.
            guard heldWorkload != nil, Self.terminates(signal) else { return }
            heldWorkload = nil
            if exitCode == nil { exitCode = 128 + signal }
            events.update { $0.exit = ExitStatus(signal: signal) }
            beginStop(reason: "signal \(signal) before start")
            return
        }
        let send: () -> Void = { [unowned self] in
            if all { self.mux?.signalAll(signal) } else { session.signal(signal) }
        }
        guard events.current.state == .paused else { return send() }
        // A paused guest cannot act on it: resume first, as runc thaws a frozen container to kill it.
        resumeVM { [unowned self] error in
            if let error { self.warn("resume before signal \(signal): \(error.message)") }
            send()
        }
    }

    /// `fc-supervisor run`'s rule: SIGINT/SIGTERM get SIGKILL after the stop timeout, and a second one at once.
    private func forward(_ signal: Int32, to session: GuestSession) {
        guard signal == SIGTERM || signal == SIGINT else { return session.signal(signal) }
        terminate(session, with: signal)
    }

    private func terminate(_ session: GuestSession, with signal: Int32) {
        forwardedSignals += 1
        if forwardedSignals > 1 {
            log("second stop request: killing the workload")
            session.signal(SIGKILL)
            return
        }
        session.signal(signal)
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
