import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    /// SIGTERM to everything, a grace period, SIGKILL, pending exits sent and (briefly) awaited, then sync,
    /// unmount and reboot/power off (PID 1) or exit 0 (run by hand).
    func beginShutdown(mode: ShutdownMode?, graceMs: UInt64?, reason: String) {
        guard !shuttingDown else { return }
        shuttingDown = true
        // Frozen processes ignore SIGTERM and a frozen disk would hang the final sync: thaw first.
        if let state = snapshot { thawAll(state) }
        let mode = mode ?? config.shutdownMode
        let grace = graceMs ?? config.graceMs
        Log.info("shutdown (\(reason)): SIGTERM to all, \(grace) ms grace, then \(mode.rawValue)")
        signalEverything(SIGTERM)
        let start = EventLoop.now()
        var killed = false
        var killedAt: UInt64 = 0
        func poll() {
            reap()
            let now = EventLoop.now()
            if !killed {
                if now - start >= grace * 1_000_000 || !anythingRunning() {
                    if anythingRunning() { signalEverything(SIGKILL) }
                    killed = true
                    killedAt = now
                }
            } else {
                let waitingForExits = sessions.values.contains { $0.exitReport == nil }
                let unacknowledged = !connections.isEmpty && sessions.values.contains { $0.exitReport != nil }
                let budget = config.exitAckWaitMs * 1_000_000
                if now - killedAt >= budget || (!waitingForExits && !unacknowledged) {
                    finalizeShutdown(mode)
                }
            }
            loop.addTimer(after: .milliseconds(20)) { poll() }
        }
        poll()
    }

    /// Whether any session process (or, as PID 1, any process at all) is alive.
    func anythingRunning() -> Bool {
        if sessions.values.contains(where: { $0.isRunning }) { return true }
        if isInit { return Self.userProcessExists() }
        return false
    }

    /// Whether any process other than this one is alive, kernel threads and zombies aside. (`kill(-1, 0)`
    /// cannot tell: in a real VM it also succeeds for kernel threads, so shutdown always waited the full grace.)
    static func userProcessExists() -> Bool {
        guard let entries = try? Directory.entries("/proc") else { return (try? ChildProcess.signal(-1, 0)) != nil }
        let me = getpid()
        for entry in entries {
            guard let pid = Int32(entry.name), pid != me else { continue }
            guard let stat = try? Files.readText("/proc/\(pid)/stat", limit: 4096),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm)": state ppid pgrp session tty_nr tpgid flags …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 6, let flags = UInt64(fields[6]) else { continue }
            let kernelThread = flags & 0x0020_0000 != 0  // PF_KTHREAD
            if !kernelThread && fields[0] != "Z" && fields[0] != "X" { return true }
        }
        return false
    }

    func signalEverything(_ signal: Int32) {
        for session in sessions.values where session.isRunning {
            try? self.signal(session, signal)
        }
        if isInit { try? ChildProcess.signal(-1, signal) }
    }

    /// The last step. Never returns.
    func finalizeShutdown(_ mode: ShutdownMode) -> Never {
        // Best effort: queued frames (exits) get one last chance, bounded so that a host that stopped reading
        // cannot hold the power-off.
        let deadline = Clock.deadline(after: .seconds(1))
        for conn in connections.values { conn.flush(until: deadline) }
        guard isInit else {
            Log.info("shutdown complete (not PID 1: exiting)")
            exit(0)
        }
        Agent.powerOff(mode, boot: boot, reason: "shutdown complete")
    }

    /// Syncs, unmounts what boot mounted and reboots or powers off. Used for clean shutdowns and for any
    /// unexpected failure of PID 1. Never returns.
    public static func powerOff(_ mode: ShutdownMode, boot: Boot, reason: String) -> Never {
        Log.info("\(reason): sync, unmount, \(mode.rawValue)")
        SystemControl.sync()
        boot.unmountAll()
        SystemControl.sync()
        do {
            try SystemControl.reboot(mode == .reboot ? .autoboot : .powerOff)
        } catch {
            Log.error("reboot: \(error)")
        }
        do { try SystemControl.reboot(.powerOff) } catch { Log.error("power off: \(error)") }
        // Nothing else is possible; exiting PID 1 panics the kernel, so wait forever instead.
        while true { Clock.sleep(.seconds(3600)) }
    }
}
