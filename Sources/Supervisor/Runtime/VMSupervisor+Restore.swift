import LinuxSystem
import VMM
import VsockProtocol

/// What a restored supervisor starts from: a checkpoint directory and the workload it holds.
public struct RestorePlan: Sendable {
    /// The checkpoint directory (the VMM's files, `vmm.json`, `workload.json`).
    public var directory: String
    public var workload: CheckpointWorkload
    /// The clone's hostname (its container id); nil keeps the checkpointed one.
    public var hostname: String?

    public init(directory: String, workload: CheckpointWorkload, hostname: String?) {
        self.directory = directory; self.workload = workload; self.hostname = hostname
    }
}

/// Restore: the VMM starts from the snapshot instead of booting (the guest runs, frozen), the guest channel is
/// re-dialled until vm-init answers (QEMU: its new chardev connects to our listener; Firecracker: hybrid vsock
/// every 5 ms), then `hello`, `resume` (host wall time, generation + 1, fresh random bytes, the workload kept,
/// the clone's hostname) and `attach` of the workload's session, whose output then flows to this supervisor's
/// stdio and whose exit becomes its exit. Timings go to `events.jsonl` (`restored`).
extension VMSupervisor {
    func bootOrRestore(_ driver: any VMMDriver, deadline: Clock.Instant) throws(VMMError) {
        guard let restore else { return try driver.boot(deadline: deadline) }
        snapshotState.restoreStartedNs = EventLoop.now()
        try driver.restore(from: VMMSnapshotFiles(directory: restore.directory), deadline: deadline)
        snapshotState.vmmRestoredNs = EventLoop.now()
    }

    func resumeRestored(_ hello: Hello, on mux: GuestMux) {
        guard let restore else { return }
        let connectedNs = EventLoop.now()
        mux.sendHello()
        let generation = restore.workload.generation + 1
        let keep = restore.workload.session.map { [$0] } ?? []
        resumeGuest(on: mux, generation: generation, keep: keep, hostname: restore.hostname) { [unowned self] result in
            switch result {
            case .failure(let error):
                self.fail(.guestLost, "restore: \(error.message)")
            case .success(let resumed):
                self.snapshotState.generation = generation
                // The lost sessions' exits stay in the guest unacknowledged: new sessions must not reuse their ids.
                mux.reserveSessionIDs(through: (resumed.lost + keep).max() ?? 0)
                let resumedNs = EventLoop.now()
                if let session = restore.workload.session { self.attachWorkload(session, pid: restore.workload.pid, on: mux) }
                let s = self.snapshotState
                let timings = "vmm \(Self.ms(s.vmmRestoredNs - s.restoreStartedNs)) ms, connect \(Self.ms(connectedNs - s.vmmRestoredNs)) ms, "
                    + "resume \(Self.ms(resumedNs - connectedNs)) ms, total \(Self.ms(resumedNs - s.restoreStartedNs)) ms"
                    + "; guest \(resumed.summary)"
                self.events.record(.restored, message: timings)
                self.events.update {
                    $0.state = .running
                    $0.workloadPid = restore.workload.pid
                }
                self.reportCreated(nil)
                self.startHealthMonitor()
            }
        }
    }

    /// Takes the running workload over: `attach` on the new connection, its output to our stdio, its exit ours.
    private func attachWorkload(_ session: SessionID, pid: Int32?, on mux: GuestMux) {
        let local = LocalSession(loop: loop, stdin: nil, stdout: .standardOutput, stderr: .standardError)
        local.onFinished = { [unowned self] outcome in self.workloadFinished(outcome) }
        let adapter = GuestSessionAdapter(local: local)
        let remote = mux.attach(session, delegate: adapter)
        local.remote = remote
        workload = local
        workloadAdapter = adapter
        workloadSession = remote
        if let pid { local.started(pid: pid) }
    }
}
