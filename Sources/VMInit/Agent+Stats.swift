import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    /// Answers `stats` (PROTOCOL.md §4.31) with what /proc and each session's cgroup say right now. Reads a few
    /// small procfs files on the loop: tens of microseconds, far below a heartbeat.
    func reportStats(_ request: StatsRequest, conn: FramedConnection) {
        let sessions = self.sessions.values.filter { $0.exitReport == nil }.sorted { $0.id < $1.id }.map { session in
            GuestStats.session(session.id, pid: session.pid, cgroup: cgroups.directory(for: session.id))
        }
        conn.send(.statsReport(GuestStats.report(id: request.id, sessions: sessions)))
    }
}

/// Parsers for the kernel's text files behind `stats_report`. Pure functions of the file text, so the unit tests
/// feed them fixed input; a file that is missing or does not parse leaves its group out.
enum GuestStats {
    /// /proc/stat counts in USER_HZ, which Linux fixes at 100 for user space on every architecture we boot.
    static let nanosecondsPerTick: UInt64 = 10_000_000

    static func report(id: UInt64, sessions: [SessionStats], proc: String = "/proc") -> StatsReport {
        let loadavg = text(proc + "/loadavg").flatMap(load)
        var report = StatsReport(id: id, unixNs: 0, memory: text(proc + "/meminfo").flatMap(memory),
                                 cpu: text(proc + "/stat").flatMap(cpu), loadMilli: loadavg?.milli, tasks: loadavg?.tasks,
                                 oomKills: text(proc + "/vmstat").flatMap { keyed($0)["oom_kill"] }, sessions: sessions)
        // The clocks last, right before the report is sent: the host times the round trip around this moment.
        report.uptimeNs = SystemControl.bootTimeMicroseconds() * 1000
        report.unixNs = SystemControl.wallClockNanoseconds()
        return report
    }

    /// A session's numbers from its cgroup leaf; only `session` and `pid` without one.
    static func session(_ id: SessionID, pid: Int32, cgroup: String?) -> SessionStats {
        var stats = SessionStats(session: id, pid: pid)
        guard let cgroup else { return stats }
        if let cpu = text(cgroup + "/cpu.stat").map(keyed) {
            stats.cpuNs = cpu["usage_usec"].map { $0 * 1000 }
            stats.cpuUserNs = cpu["user_usec"].map { $0 * 1000 }
            stats.cpuSystemNs = cpu["system_usec"].map { $0 * 1000 }
        }
        stats.memoryBytes = Files.readValue(cgroup + "/memory.current").flatMap { UInt64($0) }
        stats.memoryPeakBytes = Files.readValue(cgroup + "/memory.peak").flatMap { UInt64($0) }
        stats.pids = Files.readValue(cgroup + "/pids.current").flatMap { UInt32($0) }
        if let events = text(cgroup + "/memory.events").map(keyed) {
            stats.oomEvents = events["oom"]
            stats.oomKills = events["oom_kill"]
        }
        return stats
    }

    /// MemTotal, MemAvailable, MemFree (kB) in bytes.
    static func memory(_ meminfo: String) -> GuestMemoryStats? {
        let values = keyed(meminfo.replacingColons())
        guard let total = values["MemTotal"], let available = values["MemAvailable"] else { return nil }
        return GuestMemoryStats(totalBytes: total * 1024, availableBytes: available * 1024,
                                freeBytes: values["MemFree"].map { $0 * 1024 })
    }

    /// The aggregate `cpu` line: user+nice, system+irq+softirq, idle+iowait; and the count of `cpuN` lines.
    static func cpu(_ stat: String) -> GuestCPUStats? {
        var total: [UInt64]?
        var count: UInt32 = 0
        for line in stat.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ")
            if fields.first == "cpu" {
                total = fields.dropFirst().compactMap { UInt64($0) }
            } else {
                count += 1
            }
        }
        guard let t = total, t.count >= 7 else { return nil }
        return GuestCPUStats(userNs: (t[0] + t[1]) * nanosecondsPerTick, systemNs: (t[2] + t[5] + t[6]) * nanosecondsPerTick,
                             idleNs: (t[3] + t[4]) * nanosecondsPerTick, count: count)
    }

    /// `0.12 0.05 0.01 1/83 412` → ([120, 50, 10], 83).
    static func load(_ loadavg: String) -> (milli: [UInt32], tasks: UInt32?)? {
        let fields = loadavg.split(separator: " ")
        guard fields.count >= 3 else { return nil }
        var milli: [UInt32] = []
        for field in fields.prefix(3) {
            guard let value = Double(field), value >= 0, value < 4_000_000 else { return nil }
            milli.append(UInt32((value * 1000).rounded()))
        }
        let tasks = fields.count > 3 ? fields[3].split(separator: "/").last.flatMap { UInt32($0) } : nil
        return (milli, tasks)
    }

    /// `key value` lines (cpu.stat, memory.events, /proc/vmstat) → numbers; lines that do not parse are skipped.
    static func keyed(_ text: String) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let value = UInt64(fields[1]) else { continue }
            values[String(fields[0])] = value
        }
        return values
    }

    private static func text(_ path: String) -> String? { try? Files.readText(path, limit: 1 << 20) }

    /// Whether this process is in the initial PID namespace (`NSpid:` lists one pid): vm-init as a VM's init is;
    /// one started by the simulator or a test in a new PID namespace is not, and must leave the host's clock alone.
    static var ownsTheClock: Bool {
        guard let status = text("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }) else { return false }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).count == 2
    }
}

extension String {
    /// `MemTotal:   2048 kB` → `MemTotal    2048 kB`, for ``GuestStats/keyed(_:)``.
    fileprivate func replacingColons() -> String { String(map { $0 == ":" ? " " : $0 }) }
}
