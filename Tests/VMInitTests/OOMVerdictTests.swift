import Glibc
import LinuxSystem
import Testing
import VsockProtocol
@testable import VMInit

/// `exit.oom_killed` when the kernel's evidence comes after the reap. `__oom_kill_process` sends SIGKILL before
/// it counts (`oom_kill` in /proc/vmstat) and logs ("Killed process N (") the kill, so vm-init may reap first; the
/// exit must wait for a later look instead of saying "not OOM-killed". The evidence is staged through the
/// `oomEvidence` seam: a real OOM kill lands in either order by chance (the QEMU E2E rungs cover real ones).
@Suite struct OOMVerdictTests {
    /// Runs `session`'s SIGKILL exit through the agent's loop until the exit is built; returns it and how many
    /// times the evidence was asked for.
    func exit(evidenceOnLook hit: Int?, sentByVMInit: Bool = false) throws -> (VsockProtocol.ExitStatus?, looks: Int) {
        var config = Config()
        config.listen = .unix(path: "/nonexistent/oom-verdict.sock")
        let agent = try Agent(config: config, boot: Boot(), isInit: false)
        var looks = 0
        agent.oomEvidence = { _, _ in
            looks += 1
            return looks == hit
        }
        let session = Session(id: 7, argv0: "memhog", tty: false, pid: 4_999_999, stdinEnabled: false,
                              ourWindow: 65536, peerWindow: 65536, connectionID: nil)
        agent.sessions[session.id] = session
        if sentByVMInit {
            // The one door for vm-init's own signals; the pid does not exist (ESRCH), the mark stays.
            #expect(throws: SystemError.self) { try agent.signal(session, SIGKILL) }
        }
        agent.processExited(session, .signaled(SIGKILL, coreDumped: false))
        func poll() {
            if session.exitReport != nil { return agent.loop.stop() }
            _ = agent.loop.addTimer(after: .milliseconds(2)) { poll() }
        }
        agent.loop.post { poll() }
        _ = agent.loop.addTimer(after: .seconds(5)) { agent.loop.stop() }
        try agent.loop.run()
        return (session.exitReport?.status, looks)
    }

    @Test func evidenceThatComesAfterTheReapStillMarksTheExit() throws {
        let (status, looks) = try exit(evidenceOnLook: 3)
        #expect(status?.signal == SIGKILL)
        #expect(status?.oomKilled == true)
        #expect(looks == 3)
    }

    @Test func noEvidenceWithinTheLooksIsNotAnOOMKill() throws {
        let (status, looks) = try exit(evidenceOnLook: nil)
        #expect(status?.signal == SIGKILL)
        #expect(status?.oomKilled == false)
        #expect(looks == 1 + Agent.oomLooks)
    }

    @Test func evidenceAtOnceNeedsNoSecondLook() throws {
        let (status, looks) = try exit(evidenceOnLook: 1)
        #expect(status?.oomKilled == true)
        #expect(looks == 1)
    }

    @Test func aSIGKILLVMInitSentIsReportedWithoutLooking() throws {
        let (status, looks) = try exit(evidenceOnLook: 1, sentByVMInit: true)
        #expect(status?.signal == SIGKILL)
        #expect(status?.oomKilled == false)
        #expect(looks == 0)
    }
}
