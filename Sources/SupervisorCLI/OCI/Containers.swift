import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VsockProtocol

/// The supervisor's `state.json` as the CLI needs it. Read leniently (unknown phases and keys are kept as
/// text), so the CLI does not depend on every phase the supervisor may add.
struct SupervisorSnapshot: Decodable, Equatable {
    var state: String
    var supervisorPid: Int32?
    var vmmPid: Int32?
    var workloadPid: Int32?
    var exitCode: Int32?
    var oomKills: Int?
    /// The workload's whole exit status, once it ended.
    var exit: ExitStatus?

    enum CodingKeys: String, CodingKey {
        case state, exit
        case supervisorPid = "supervisor_pid", vmmPid = "vmm_pid", workloadPid = "workload_pid"
        case exitCode = "exit_code", oomKills = "oom_kills"
    }

    init(state: String, supervisorPid: Int32? = nil, vmmPid: Int32? = nil, workloadPid: Int32? = nil,
         exitCode: Int32? = nil, oomKills: Int? = nil) {
        self.state = state; self.supervisorPid = supervisorPid; self.vmmPid = vmmPid; self.workloadPid = workloadPid
        self.exitCode = exitCode; self.oomKills = oomKills
    }

    static func read(_ path: String) -> SupervisorSnapshot? {
        guard let bytes = try? Files.readAll(path, limit: 1 << 20) else { return nil }
        return try? JSONBody.decode(SupervisorSnapshot.self, from: bytes)
    }
}

/// One container as a runc command sees it: the OCI record written at create and the status recomputed now, as
/// runc recomputes it on every call (contract §3 "Status is recomputed").
struct Container {
    var record: ContainerState
    var directory: StateDirectory
    var snapshot: SupervisorSnapshot?
    var status: ContainerState.Status

    /// The pid-file pid: the per-VM supervisor standing in for the workload (while `create` is still under
    /// way, the one the supervisor recorded itself); 0 when there is none.
    var pid: Int32 { record.pid > 0 ? record.pid : max(snapshot?.supervisorPid ?? 0, 0) }

    /// What `state` prints: the live status, pid 0 once stopped.
    var state: ContainerState {
        var state = record
        state.pid = pid
        state.status = status
        state.exit = status == .stopped ? snapshot?.exit : nil
        return state
    }

    /// Exec relays recorded under `exec/` that still run: the host pids standing in for exec sessions.
    var execPids: [Int32] {
        Directory.names(directory.path + "/" + Self.execDirectory).compactMap(Int32.init).filter {
            Containers.isAlive($0, id: record.id)
        }.sorted()
    }

    static let execDirectory = "exec"
}

enum Containers {
    /// The container `id` under `root`, or runc's `container does not exist`.
    static func load(root: String, id: String) throws(RuntimeFailure) -> Container {
        let record: ContainerState
        do { record = try ContainerStore(root: root).load(id: id) } catch { throw RuntimeFailure(error) }
        return assemble(record, root: root)
    }

    /// Every container under `root` (sorted by id), and the directories that could not be read.
    static func list(root: String) -> (containers: [Container], failures: [String]) {
        let (records, failures) = ContainerStore(root: root).list()
        return (records.map { assemble($0, root: root) }, failures.map(\.message))
    }

    static func assemble(_ record: ContainerState, root: String) -> Container {
        let directory = StateDirectory(root: root, id: record.id)
        let snapshot = SupervisorSnapshot.read(directory.stateFile)
        var container = Container(record: record, directory: directory, snapshot: snapshot, status: .stopped)
        let alive = isAlive(container.pid, id: record.id)
        container.status = status(recorded: container.pid, alive: alive, snapshot: snapshot)
        return container
    }

    /// runc's four answers from what the supervisor recorded and whether it still lives:
    /// - the supervisor gone (or never recorded: a create that did not finish) → `stopped`;
    /// - the workload's exit recorded, or the supervisor stopping → `stopped` (it only powers the VM off now);
    /// - `paused` → `paused`; `running` (the workload started) → `running`;
    /// - anything earlier (booting, created: the workload held for `start`) → `created`.
    static func status(recorded pid: Int32, alive: Bool, snapshot: SupervisorSnapshot?) -> ContainerState.Status {
        guard pid > 0, alive else { return .stopped }
        guard let snapshot else { return .created }
        if snapshot.exitCode != nil { return .stopped }
        switch snapshot.state {
        case "stopping", "stopped": return .stopped
        case "paused": return .paused
        case "running": return .running
        default: return .created
        }
    }

    /// True when `pid` runs (a zombie counts as gone: its parent only has to reap it) and is the process
    /// recorded for container `id` (its argv names the id, so a recycled pid is not mistaken for it).
    static func isAlive(_ pid: Int32, id: String) -> Bool {
        guard pid > 0 else { return false }
        do { try ChildProcess.signal(pid, 0) } catch where error.errno == ESRCH { return false } catch {}
        guard let stat = Files.readValue("/proc/\(pid)/stat", limit: 1024),
              let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        if rest.first == "Z" || rest.first == "X" { return false }
        guard let cmdline = try? Files.readAll("/proc/\(pid)/cmdline", limit: 1 << 16) else { return false }
        return cmdline.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == id }
    }

    /// Waits until `pid` is gone, polling every 100 ms like runc's `delete --force`; false when `timeout` ran out.
    static func waitGone(_ pid: Int32, id: String, timeout: Duration) -> Bool {
        let deadline = Clock.deadline(after: timeout)
        while isAlive(pid, id: id) {
            guard Clock.now() < deadline else { return false }
            Clock.sleep(.milliseconds(100))
        }
        return true
    }
}
