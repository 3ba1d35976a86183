import Glibc
import LinuxSystem
import VMM
import VsockProtocol

/// Stopping: the guest powers itself off (vm-init's `shutdown`), the VMM is asked if it does not, and teardown
/// kills what is left, bounded throughout, without ever blocking the loop.
extension VMSupervisor {
    func beginStop(reason: String) {
        guard !stopping else { return }
        stopping = true
        events.record(.stopping, message: reason)
        let wasPaused = events.current.state == .paused
        events.update { $0.state = .stopping }
        // Nothing waits in `created` any more, and a `start` still waiting for `started` gets its answer.
        heldWorkload = nil
        answerStart(.failure(ErrorMessage(code: .invalidState, message: "the container is stopping: \(reason)")))
        if wasPaused {
            // A paused guest would never power off; the stop bound below still holds if resuming fails.
            driver?.setPaused(false, on: loop) { [unowned self] error in
                if let error { self.warn("resume before stop: \(error.message)") }
            }
        }
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
    func askVMMToStop() {
        guard let driver, driver.process?.isRunning == true else { return }
        events.record(.stopping, message: "asking the VMM to shut the guest down")
        driver.requestGuestShutdown(on: loop, log: { [unowned self] in self.log($0) })
    }

    func checkVMM() {
        guard let process = driver?.process, !process.isRunning else { return }
        if !stopping {
            let how = process.termination.map { "\($0)" } ?? "unknown"
            fail(.guestLost, "the VMM exited unexpectedly (\(how))")
            return
        }
        // Let queued local output drain before leaving.
        if workload.map({ _ in exitCode != nil }) ?? true { loop.stop() }
    }

    func guestClosed(_ error: SystemError?) {
        guard !stopping else {
            // The workload's session ends first (lost with the connection); still say why the connection went.
            if let error { log("the guest connection closed: \(error)") }
            return
        }
        fail(.guestLost, "the guest connection closed" + (error.map { ": \($0)" } ?? ""))
    }

    func fail(_ code: SupervisorExitCode, _ message: String) {
        log(message)
        events.record(.error, message: message)
        if exitCode == nil { exitCode = code.rawValue }
        // A `create` still waiting learns why, in the failure's own words.
        reportCreated(SupervisorError(code, message))
        beginStop(reason: message)
    }

    func warn(_ message: String) {
        warnings += 1
        if warnings <= 20 { log("warning: \(message)") }
        if warnings == 20 { log("warning: further guest warnings suppressed") }
    }

    func tearDown() {
        reportCreated(SupervisorError(exitCode.flatMap { SupervisorExitCode(rawValue: $0) } ?? .guestLost,
                                      "the VM stopped before the container was created"))
        terminal?.restore()
        workload?.close()
        control?.close()
        metrics?.close()
        if let process = driver?.process {
            process.waitOrKill(timeout: stopping ? .seconds(2) : .zero)
        }
        driver?.cleanup()
        mux?.closeQuietly()
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
        // Nothing runs on the loop any more: timers still pending (a reply's deadline) would keep the supervisor,
        // through the loop it owns, from ever being freed.
        loop.discardPendingWork()
    }
}
