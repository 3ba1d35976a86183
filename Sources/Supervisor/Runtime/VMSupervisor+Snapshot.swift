#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import LinuxSystem
import VMM
import VsockProtocol

/// What the supervisor keeps about snapshots.
struct SnapshotState {
    /// The guest's generation: 1 when booted, +1 on every restore (sent in `resume`).
    var generation: UInt64 = 1
    /// A checkpoint is under way (a second one, a pause or a stop waits for it to end).
    var checkpointing = false
    /// Restore timings, nanoseconds on the monotonic clock.
    var restoreStartedNs: UInt64 = 0
    var vmmRestoredNs: UInt64 = 0
}

/// The supervisor's part of a checkpoint directory (`workload.json`): what a restore needs to take the workload
/// over again. The VMM's part is `vmm.json` (``VMMSnapshotInfo``); `fc-supervisor checkpoint` adds the manifest.
public struct CheckpointWorkload: Codable, Sendable, Equatable {
    /// The container id at checkpoint time.
    public var id: String
    /// The workload's session in the guest (kept and re-attached by a restore); nil when it had ended.
    public var session: SessionID?
    /// Its pid in the guest.
    public var pid: Int32?
    public var generation: UInt64
    /// Host wall clock when the VM was paused.
    public var pausedUnixNs: Int64
    /// vm-init's `frozen` report, as it sent it (method, sessions, fsfreeze, timings).
    public var frozen: String?

    enum CodingKeys: String, CodingKey {
        case id, session, pid, generation, pausedUnixNs = "paused_unix_ns", frozen
    }

    public static let fileName = "workload.json"

    public static func read(directory: String) throws(SupervisorError) -> CheckpointWorkload {
        let path = directory + "/" + fileName
        do {
            return try JSONDecoder().decode(CheckpointWorkload.self, from: Data(try Files.readAll(path, limit: 256 << 10)))
        } catch {
            throw SupervisorError(.badArguments, "\(path) is missing or unreadable: \(error)")
        }
    }
}

/// `lifecycle checkpoint` (PROTOCOL.md §11.1): freeze the guest (its output is all read once `frozen` arrives),
/// pause and snapshot the VM, then run on (`leave_running`: resume + `thaw`) or stop. Any failure thaws the guest
/// and lets the VM run on, so a failed checkpoint changes nothing but the (discarded) directory.
extension VMSupervisor {
    func checkpoint(_ request: LifecycleRequest, reply: @escaping (Result<LifecycleDone, ErrorMessage>) -> Void) {
        func refuse(_ code: ErrorCode, _ text: String) { reply(.failure(ErrorMessage(code: code, message: text))) }
        guard events.current.state == .running, !stopping, !snapshotState.checkpointing, let driver, let mux, mux.isReady else {
            return refuse(.invalidState, "container not running")
        }
        guard let directory = request.imagePath, Files.isDirectory(directory) else {
            return refuse(.invalidMessage, "checkpoint needs image_path, an existing directory")
        }
        guard config.rootfs == nil else {
            return refuse(.internal, "cannot checkpoint a VM with a writable drive (\(config.rootfs ?? "")): its disk state is not copied")
        }
        let leaveRunning = request.leaveRunning ?? false
        guard !(leaveRunning && config.vmm == .firecracker) else {
            // Firecracker resets every vsock connection at snapshot time: running on needs a new guest connection
            // with every session re-attached, which this supervisor does not do yet.
            return refuse(.internal, "--leave-running is not supported with Firecracker: a snapshot resets every vsock connection")
        }
        snapshotState.checkpointing = true
        let started = EventLoop.now()
        freezeGuest(on: mux) { [unowned self] result in
            switch result {
            case .failure(let error):
                self.snapshotState.checkpointing = false
                refuse(.internal, "checkpoint: \(error.message)")
            case .success(let frozen):
                let frozenAt = EventLoop.now()
                let pausedUnixNs = SystemControl.wallClockNanoseconds()
                driver.createSnapshot(VMMSnapshotFiles(directory: directory), on: self.loop) { [unowned self] error in
                    let snapshotAt = EventLoop.now()
                    var failure = error?.message
                    if failure == nil {
                        failure = self.writeWorkload(directory: directory, frozen: frozen, pausedUnixNs: pausedUnixNs)
                    }
                    let timings = "freeze \(Self.ms(frozenAt - started)) ms, snapshot \(Self.ms(snapshotAt - frozenAt)) ms"
                    if let failure {
                        // The guest runs on as if nothing happened.
                        self.runOn(driver: driver, mux: mux) { _ in
                            self.snapshotState.checkpointing = false
                            refuse(.internal, "checkpoint failed: \(failure)")
                        }
                        return
                    }
                    self.events.record(.checkpointed, message: timings + (leaveRunning ? ", left running" : ""))
                    guard leaveRunning else {
                        reply(.success(LifecycleDone(action: .checkpoint)))
                        return self.endAfterCheckpoint()
                    }
                    self.runOn(driver: driver, mux: mux) { error in
                        self.snapshotState.checkpointing = false
                        if let error { self.warn("after checkpoint: \(error)") }
                        reply(.success(LifecycleDone(action: .checkpoint)))
                    }
                }
            }
        }
    }

    /// Resumes the VM a snapshot paused and thaws the guest (`completion` gets what failed, if anything).
    private func runOn(driver: any VMMDriver, mux: GuestMux, completion: @escaping (String?) -> Void) {
        driver.resumeAfterSnapshot(on: loop) { [unowned self] error in
            if let error { return completion("resume: \(error.message)") }
            self.thawGuest(on: mux) { error in completion(error.map { "thaw: \($0.message)" }) }
        }
    }

    /// `workload.json`; nil, or why it could not be written.
    private func writeWorkload(directory: String, frozen: String?, pausedUnixNs: Int64) -> String? {
        let record = CheckpointWorkload(id: config.id, session: workloadSession.flatMap { $0.finished ? nil : $0.id },
                                        pid: workloadSession?.pid, generation: snapshotState.generation,
                                        pausedUnixNs: pausedUnixNs, frozen: frozen)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try Files.writeAtomically(directory + "/" + CheckpointWorkload.fileName, Array(try encoder.encode(record)) + [10], mode: 0o600)
            return nil
        } catch {
            return "cannot write \(CheckpointWorkload.fileName): \(error)"
        }
    }

    /// runc's checkpoint without `--leave-running` ends the container: the VM stays paused and is killed (its
    /// state is in the snapshot); the supervisor exits 137, as a SIGKILLed workload's would. Exec sessions still
    /// open end as lost to the snapshot.
    private func endAfterCheckpoint() {
        stopping = true
        exitCode = 128 + SIGKILL
        events.record(.stopping, message: "checkpointed")
        events.update {
            $0.state = .stopping
            $0.exit = ExitStatus(signal: SIGKILL)
            $0.exitCode = 128 + SIGKILL
        }
        // The workload is not ending, its VM is: no `lost` outcome may replace the status above.
        workloadSession?.delegate = nil
        endSessionsLostToSnapshot()
        if let process = driver?.process, process.isRunning { try? ChildProcess.signal(process.pid, SIGKILL) }
        loop.addTimer(after: .seconds(2)) { [unowned self] in self.loop.stop() }
        checkVMM()
    }

    /// Milliseconds with one decimal.
    static func ms(_ ns: UInt64) -> String { "\((Double(ns) / 1e5).rounded() / 10)" }
}
