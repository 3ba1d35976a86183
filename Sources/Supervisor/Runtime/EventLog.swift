import Glibc
import LinuxSystem
import VMM

/// One line of `events.jsonl`.
public struct SupervisorEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case booted, ready, started, exited, stopping, stopped, error, network
        case networkApplied = "network_applied"
    }
    public var event: Kind
    /// Wall clock, nanoseconds since the Unix epoch.
    public var timeNs: Int64
    public var id: String
    public var pid: Int32?
    public var exitCode: Int32?
    public var message: String?
    /// Milliseconds since the supervisor started.
    public var elapsedMs: Double?

    enum CodingKeys: String, CodingKey {
        case event, id, pid, message
        case timeNs = "time_ns", exitCode = "exit_code", elapsedMs = "elapsed_ms"
    }
}

/// The VM's state as `fc-supervisor state` reports it (`state.json`).
public struct SupervisorState: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        case booting, running, stopping, stopped
    }
    public var state: Phase
    public var id: String
    public var vmm: String
    public var supervisorPid: Int32
    public var vmmPid: Int32?
    public var workloadPid: Int32?
    public var exitCode: Int32?
    public var bootMs: Double?
    public var stateDir: String

    enum CodingKeys: String, CodingKey {
        case state, id, vmm
        case supervisorPid = "supervisor_pid", vmmPid = "vmm_pid", workloadPid = "workload_pid"
        case exitCode = "exit_code", bootMs = "boot_ms", stateDir = "state_dir"
    }
}

/// Writes events and state into the state directory.
final class EventLog {
    let directory: StateDirectory
    let id: String
    private let startedAt = EventLoop.now()
    private(set) var current: SupervisorState

    init(directory: StateDirectory, id: String, vmm: VMMKind) {
        self.directory = directory
        self.id = id
        current = SupervisorState(state: .booting, id: id, vmm: vmm.rawValue, supervisorPid: getpid(),
                                  stateDir: directory.path)
    }

    var elapsedMs: Double { Double(EventLoop.now() - startedAt) / 1e6 }

    func record(_ event: SupervisorEvent.Kind, pid: Int32? = nil, exitCode: Int32? = nil, message: String? = nil) {
        let entry = SupervisorEvent(event: event, timeNs: SystemControl.wallClockNanoseconds(), id: id, pid: pid,
                                    exitCode: exitCode, message: message, elapsedMs: (elapsedMs * 1000).rounded() / 1000)
        // The event log is a record for observers: a full disk must not stop the VM.
        try? Files.appendLine(directory.eventsFile, String(decoding: JSONBody.encode(entry), as: UTF8.self))
    }

    func update(_ change: (inout SupervisorState) -> Void) {
        change(&current)
        try? Files.writeAtomically(directory.stateFile, JSONBody.encode(current, pretty: true) + [10])
    }
}
