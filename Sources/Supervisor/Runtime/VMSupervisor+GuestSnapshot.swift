#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import LinuxSystem
import VMM
import VsockProtocol

/// The guest's side of a snapshot (contract §1: `freeze`/`frozen`, `thaw`/`thawed`, `resume`/`resumed`), for a
/// vm-init whose `hello` offers the `snapshot` capability.
extension VMSupervisor {
    static let snapshotCapability = "snapshot"
    /// How long vm-init may take to freeze (it undoes a freeze that takes longer) and to answer a thaw or resume.
    static let freezeTimeoutMs: UInt32 = 5000
    static let snapshotReplyBound: Duration = .seconds(10)

    private func snapshotRefusal(_ mux: GuestMux) -> SupervisorError? {
        guard mux.guestHello?.capabilities.contains(Self.snapshotCapability) != true else { return nil }
        return SupervisorError(.guestLost, "this vm-init offers no snapshots (its hello lacks the \"snapshot\" capability)")
    }

    /// One snapshot request and its answer (or the guest's `error`), bounded in time.
    private func ask(_ message: Message, on mux: GuestMux, completion: @escaping (Result<Message, SupervisorError>) -> Void) {
        if let refusal = snapshotRefusal(mux) { return completion(.failure(refusal)) }
        var answered = false
        mux.snapshotRequest(message) { reply in
            guard !answered else { return }
            answered = true
            switch reply {
            case .success(let answer): completion(.success(answer))
            case .failure(let error): completion(.failure(SupervisorError(.guestLost, "vm-init refused \(message.type): \(error.code): \(error.message)")))
            }
        }
        loop.addTimer(after: Self.snapshotReplyBound) {
            guard !answered else { return }
            answered = true
            completion(.failure(SupervisorError(.guestLost, "vm-init did not answer \(message.type) within \(Self.snapshotReplyBound)")))
        }
    }

    /// `freeze`; `completion` gets vm-init's `frozen` report as JSON text (kept in `workload.json`). Every output
    /// byte of every session was read before `frozen`, which travels behind it in the bulk lane.
    func freezeGuest(on mux: GuestMux, completion: @escaping (Result<String?, SupervisorError>) -> Void) {
        ask(.freeze(FreezeRequest(timeoutMs: Self.freezeTimeoutMs)), on: mux) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(.frozen(let report)):
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                completion(.success((try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) }))
            case .success(let other): completion(.failure(SupervisorError(.guestLost, "vm-init answered freeze with \(other.type)")))
            }
        }
    }

    func thawGuest(on mux: GuestMux, completion: @escaping (SupervisorError?) -> Void) {
        ask(.thaw(ThawRequest()), on: mux) { result in
            switch result {
            case .failure(let error): completion(error)
            case .success(.thawed): completion(nil)
            case .success(let other): completion(SupervisorError(.guestLost, "vm-init answered thaw with \(other.type)"))
            }
        }
    }

    /// `resume` with the host's wall clock, the new generation and 32 fresh bytes from getrandom(2); `completion`
    /// gets a summary of vm-init's `resumed` (clock step, reseed, lost sessions, its timings).
    func resumeGuest(on mux: GuestMux, generation: UInt64, keep: [SessionID], hostname: String?,
                     completion: @escaping (Result<(summary: String, lost: [SessionID]), SupervisorError>) -> Void) {
        let entropy: [UInt8]
        do { entropy = try SystemControl.randomBytes(32) } catch {
            return completion(.failure(SupervisorError(.guestLost, "getrandom: \(error)")))
        }
        let request = ResumeRequest(unixNs: SystemControl.wallClockNanoseconds(), generation: generation, entropyBytes: entropy,
                                    keep: keep, hostname: hostname)
        ask(.resume(request), on: mux) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(.resumed(let report)):
                let step = report.clockStepNs.map { "clock stepped \(Self.ms(UInt64(abs($0)))) ms" + ($0 < 0 ? " back" : "") } ?? "clock not set"
                completion(.success(("\(step), rng \(report.rngReseeded ? "reseeded" : "NOT reseeded"), lost \(report.lost), "
                                     + "guest resume \(Double(report.timingsUs.total) / 1000) ms", report.lost)))
            case .success(let other): completion(.failure(SupervisorError(.guestLost, "vm-init answered resume with \(other.type)")))
            }
        }
    }

    /// Exec sessions still open when a checkpoint stops the VM end with `lost: "snapshot"` (their clients print
    /// `fc-supervisor: session lost: snapshot` and exit 255).
    func endSessionsLostToSnapshot() {
        mux?.endSessions(except: workloadSession?.id, with: ExitStatus(signal: SIGKILL, lost: ExitStatus.lostSnapshot))
    }
}
