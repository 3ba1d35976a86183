import LinuxSystem
import VMM
import VsockProtocol

/// The guest's side of a snapshot (contract §1: `freeze`/`frozen`, `thaw`/`thawed`, `resume`/`resumed`), for a
/// vm-init whose `hello` offers the `snapshot` capability.
extension VMSupervisor {
    static let snapshotCapability = "snapshot"

    private func snapshotRefusal(_ mux: GuestMux) -> SupervisorError? {
        guard mux.guestHello?.capabilities.contains(Self.snapshotCapability) != true else { return nil }
        return SupervisorError(.guestLost, "this vm-init offers no snapshots (its hello lacks the \"snapshot\" capability)")
    }

    /// `freeze`; `completion` gets vm-init's `frozen` report (as JSON text, for `workload.json`).
    func freezeGuest(on mux: GuestMux, completion: @escaping (Result<String?, SupervisorError>) -> Void) {
        if let refusal = snapshotRefusal(mux) { return completion(.failure(refusal)) }
        completion(.failure(SupervisorError(.guestLost, "freeze is not implemented by this supervisor")))
    }

    func thawGuest(on mux: GuestMux, completion: @escaping (SupervisorError?) -> Void) {
        if let refusal = snapshotRefusal(mux) { return completion(refusal) }
        completion(SupervisorError(.guestLost, "thaw is not implemented by this supervisor"))
    }

    func resumeGuest(on mux: GuestMux, generation: UInt64, keep: [SessionID], hostname: String?,
                     completion: @escaping (Result<String?, SupervisorError>) -> Void) {
        if let refusal = snapshotRefusal(mux) { return completion(.failure(refusal)) }
        completion(.failure(SupervisorError(.guestLost, "resume is not implemented by this supervisor")))
    }

    func endSessionsLostToSnapshot() {}
}
