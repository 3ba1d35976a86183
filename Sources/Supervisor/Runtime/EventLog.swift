import Glibc
import LinuxSystem
import VMM
import VsockProtocol

/// One line of `events.jsonl`.
public struct SupervisorEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case booted, ready, started, exited, stopping, stopped, error, network
        case networkApplied = "network_applied"
        /// vm-init made the container's root the root of every later process.
        case containerReady = "container_ready"
        /// The VM is ready and its workload waits for `lifecycle start` (runc's `create`).
        case created
        case paused, resumed
        /// The guest's OOM killer ended the workload (its exit says `oom_killed`).
        case oom
        /// A snapshot was written (message: its timings); `restored`: the VM runs again from one (message: timings).
        case checkpointed, restored
        /// The heartbeat (VMSupervisor+Health.swift): vm-init missed a ping for a whole interval / answered again.
        case unresponsive, healthy
        /// The guest's clock was set from the host's (at boot, on request, or after drifting past the threshold).
        case clockSet = "clock_set"
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
        /// `created`: ready, the workload held until `lifecycle start`; `paused`: the VM's vCPUs are stopped.
        case booting, created, running, paused, stopping, stopped
    }
    public var state: Phase
    public var id: String
    public var vmm: String
    public var supervisorPid: Int32
    public var vmmPid: Int32?
    public var workloadPid: Int32?
    public var exitCode: Int32?
    /// How the workload ended, losslessly (signal, core dump, OOM, truncated output), once it has.
    public var exit: ExitStatus?
    /// How many times the guest's OOM killer ended the workload (0 or 1 today: exec sessions are not counted).
    public var oomKills: Int?
    public var bootMs: Double?
    public var stateDir: String
    /// The heartbeat's verdict once vm-init is ready and pings are on; nil before that or with the heartbeat off.
    public var health: Health?
    public enum Health: String, Codable, Sendable { case healthy, unresponsive }

    enum CodingKeys: String, CodingKey {
        case state, id, vmm, exit
        case supervisorPid = "supervisor_pid", vmmPid = "vmm_pid", workloadPid = "workload_pid"
        case exitCode = "exit_code", oomKills = "oom_kills", bootMs = "boot_ms", stateDir = "state_dir", health
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
