import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    /// Answers `stats` (PROTOCOL.md §4.31) with what /proc and each session's cgroup say right now. Reads a few
    /// small procfs files on the loop and looks only at the lines it reports.
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
                                 oomKills: text(proc + "/vmstat").flatMap { values(of: ["oom_kill"], in: $0)[0] }, sessions: sessions)
        // The clocks last, right before the report is sent: the host times the round trip around this moment.
        report.uptimeNs = SystemControl.bootTimeMicroseconds() * 1000
        report.unixNs = SystemControl.wallClockNanoseconds()
        return report
    }

    /// A session's numbers from its cgroup leaf; only `session` and `pid` without one.
    static func session(_ id: SessionID, pid: Int32, cgroup: String?) -> SessionStats {
        var stats = SessionStats(session: id, pid: pid)
        guard let cgroup else { return stats }
        if let cpu = text(cgroup + "/cpu.stat").map({ values(of: ["usage_usec", "user_usec", "system_usec"], in: $0) }) {
            stats.cpuNs = cpu[0].map { $0 * 1000 }
            stats.cpuUserNs = cpu[1].map { $0 * 1000 }
            stats.cpuSystemNs = cpu[2].map { $0 * 1000 }
        }
        stats.memoryBytes = Files.readValue(cgroup + "/memory.current").flatMap { UInt64($0) }
        stats.memoryPeakBytes = Files.readValue(cgroup + "/memory.peak").flatMap { UInt64($0) }
        stats.pids = Files.readValue(cgroup + "/pids.current").flatMap { UInt32($0) }
        if let events = text(cgroup + "/memory.events").map({ values(of: ["oom", "oom_kill"], in: $0) }) {
            stats.oomEvents = events[0]
            stats.oomKills = events[1]
        }
        return stats
    }

    /// MemTotal, MemAvailable, MemFree (kB) in bytes.
    static func memory(_ meminfo: String) -> GuestMemoryStats? {
        let values = values(of: ["MemTotal", "MemAvailable", "MemFree"], in: meminfo, colon: true)
        guard let total = values[0], let available = values[1] else { return nil }
        return GuestMemoryStats(totalBytes: total * 1024, availableBytes: available * 1024,
                                freeBytes: values[2].map { $0 * 1024 })
    }

    /// The aggregate `cpu` line: user+nice, system+irq+softirq, idle+iowait; and the count of `cpuN` lines.
    static func cpu(_ stat: String) -> GuestCPUStats? {
        var total: [UInt64]?
        var count: UInt32 = 0
        forEachLine(of: stat) { line in
            guard line.starts(with: "cpu".utf8) else { return }
            let fields = line.split(separator: UInt8(ascii: " "))
            if fields.first?.elementsEqual("cpu".utf8) == true {
                total = fields.dropFirst().compactMap(number)
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

    /// The numbers of `keys` in `key value` lines (cpu.stat, memory.events, /proc/vmstat; with `colon`,
    /// /proc/meminfo's `Key:   value kB`), in the order asked; nil for a key with no line whose value is a whole
    /// number (the last such line wins). Only the asked keys are looked at: /proc/vmstat has some 170 lines, and
    /// a dictionary of all of them made each report cost millions of instructions.
    static func values(of keys: [String], in text: String, colon: Bool = false) -> [UInt64?] {
        var found = [UInt64?](repeating: nil, count: keys.count)
        let isSeparator = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || (colon && byte == UInt8(ascii: ":")) }
        forEachLine(of: text) { line in
            guard let end = line.firstIndex(where: isSeparator), end > line.startIndex,
                  let slot = keys.firstIndex(where: { $0.utf8.elementsEqual(line[..<end]) }) else { return }
            let rest = line[end...].drop(while: isSeparator)
            let field = rest.prefix(while: { !isSeparator($0) })
            if let value = number(field) { found[slot] = value }
        }
        return found
    }

    /// Calls `body` with each line's bytes (without the newline).
    private static func forEachLine(of text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let bytes = Array(text.utf8)
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) { body(line) }
    }

    /// A whole decimal number (only digits, at most UInt64.max), else nil.
    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
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
