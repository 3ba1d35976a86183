import LinuxSystem
import OCIRuntime
import Supervisor
import VsockProtocol
import VsockTransport

/// What a control client asks about the guest itself: its `stats_report`, and setting its clock.
extension ControlCommands {
    /// The guest's resources now (PROTOCOL.md §4.31, relayed by the supervisor of VM `id`).
    public static func guestStats(stateRoot: String, id: String) throws(SupervisorError) -> StatsReport {
        try ask(.stats(StatsRequest(id: 1)), stateRoot: stateRoot, id: id)
    }

    /// Sets the guest's clock from the host's; the answer is the guest's report made right after (§11).
    public static func setGuestTime(stateRoot: String, id: String) throws(SupervisorError) -> StatsReport {
        try ask(.setTime(SetTime(unixNs: SystemControl.wallClockNanoseconds())), stateRoot: stateRoot, id: id)
    }

    private static func ask(_ message: Message, stateRoot: String, id: String) throws(SupervisorError) -> StatsReport {
        let path = StateDirectory(root: stateRoot, id: id).controlSocket
        let channel: FrameChannel
        do { channel = try FrameChannel.connect(unixPath: path) } catch {
            throw SupervisorError(.startFailed, "VM \(id) is not running (\(path): \(error))", cause: error)
        }
        defer { channel.close() }
        let deadline = Clock.deadline(after: .seconds(10))
        do {
            try channel.send(.hello(Hello(role: .client, agent: "fc-supervisor/0.1")))
            try channel.send(message)
            while true {
                switch try channel.receive(deadline: deadline).message {
                case .statsReport(let report): return report
                case .error(let refusal) where refusal.session == nil:
                    throw SupervisorError(.startFailed, "\(message.type) \(id): \(refusal.message)")
                default: continue  // the supervisor's hello
                }
            }
        } catch let error as SupervisorError {
            throw error
        } catch {
            throw SupervisorError(.startFailed, "\(message.type) \(id): \(error)", cause: error)
        }
    }
}

/// runc's stats event (`{"type":"stats","id":…,"data":{…}}`, as `runc events --stats` prints it) filled from
/// the guest's report: the VM is the container, so its numbers are the guest's.
public enum GuestStatsEvent {
    /// - cpu.usage: the guest's user + system time (kernel = system), ns;
    /// - memory.usage.usage: MemTotal − MemAvailable; limit: `memoryLimit` when the bundle set one, else MemTotal;
    ///   memory.raw: the guest's own numbers (total, available, free, OOM kills);
    /// - pids.current: the sessions' cgroup `pids.current` summed, or the guest's task count without cgroups.
    public static func json(id: String, report: StatsReport, memoryLimit: Int64 = 0) -> String {
        let cpu = report.cpu
        let user = cpu?.userNs ?? 0, system = cpu?.systemNs ?? 0
        let total = report.memory?.totalBytes ?? 0
        let used = total - min(total, report.memory?.availableBytes ?? total)
        let limit = memoryLimit > 0 ? UInt64(memoryLimit) : total
        let sessions = report.sessions ?? []
        let cgroupPids = sessions.compactMap(\.pids)
        let pids = cgroupPids.isEmpty ? UInt64(report.tasks ?? 0) : cgroupPids.reduce(0) { $0 + UInt64($1) }
        var raw = ["guest_total_bytes": total, "guest_available_bytes": report.memory?.availableBytes ?? 0]
        if let free = report.memory?.freeBytes { raw["guest_free_bytes"] = free }
        if let kills = report.oomKills { raw["oom_kill"] = kills }
        let rawText = raw.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        let data = "{\"cpu\":{\"usage\":{\"total\":\(user + system),\"kernel\":\(system),\"user\":\(user)},\"throttling\":{}},"
            + "\"memory\":{\"usage\":{\"limit\":\(limit),\"usage\":\(used),\"failcnt\":0},"
            + "\"swap\":{\"limit\":0,\"failcnt\":0},\"kernel\":{\"limit\":0,\"failcnt\":0},\"kernelTCP\":{\"limit\":0,\"failcnt\":0},"
            + "\"raw\":{\(rawText)}},"
            + "\"pids\":{\"current\":\(pids)},\"blkio\":{},\"hugetlb\":{},\"intel_rdt\":{},\"network_interfaces\":null}"
        return "{\"type\":\"stats\",\"id\":\(GoJSONText.string(id)),\"data\":\(data)}\n"
    }
}
