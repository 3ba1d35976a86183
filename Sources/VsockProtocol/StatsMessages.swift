/// `stats` (H→G): ask vm-init for a snapshot of the guest's resources. `id` (chosen by the host) comes back in the
/// `stats_report`, so several requests may be in flight.
public struct StatsRequest: Sendable, Equatable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// `stats_report` (G→H): what the guest's kernel says, read when the request arrived (PROTOCOL.md §4.31). Every
/// group is optional: a file the guest cannot read leaves its group out rather than reporting zeros.
public struct StatsReport: Sendable, Equatable {
    public var id: UInt64
    /// The guest's CLOCK_REALTIME when the report was made (ns since the Unix epoch): the host's drift check.
    public var unixNs: Int64
    /// Time since the guest booted (CLOCK_BOOTTIME), ns.
    public var uptimeNs: UInt64?
    public var memory: GuestMemoryStats?
    public var cpu: GuestCPUStats?
    /// /proc/loadavg's three averages, in thousandths (1.25 → 1250).
    public var loadMilli: [UInt32]?
    /// Tasks (threads) in the guest (/proc/loadavg's fourth field, after the slash).
    public var tasks: UInt32?
    /// The guest kernel's OOM kills since boot (/proc/vmstat `oom_kill`).
    public var oomKills: UInt64?
    /// One entry per live session.
    public var sessions: [SessionStats]?

    public init(id: UInt64, unixNs: Int64, uptimeNs: UInt64? = nil, memory: GuestMemoryStats? = nil,
                cpu: GuestCPUStats? = nil, loadMilli: [UInt32]? = nil, tasks: UInt32? = nil, oomKills: UInt64? = nil,
                sessions: [SessionStats]? = nil) {
        self.id = id; self.unixNs = unixNs; self.uptimeNs = uptimeNs; self.memory = memory; self.cpu = cpu
        self.loadMilli = loadMilli; self.tasks = tasks; self.oomKills = oomKills; self.sessions = sessions
    }
}

/// /proc/meminfo, in bytes.
public struct GuestMemoryStats: Sendable, Equatable {
    public var totalBytes: UInt64
    public var availableBytes: UInt64
    public var freeBytes: UInt64?
    public init(totalBytes: UInt64, availableBytes: UInt64, freeBytes: UInt64? = nil) {
        self.totalBytes = totalBytes; self.availableBytes = availableBytes; self.freeBytes = freeBytes
    }
}

/// /proc/stat's `cpu` line summed over every CPU, in ns (`user` includes nice, `system` includes irq and softirq).
public struct GuestCPUStats: Sendable, Equatable {
    public var userNs: UInt64
    public var systemNs: UInt64
    public var idleNs: UInt64
    /// Online CPUs (the `cpuN` lines).
    public var count: UInt32
    public init(userNs: UInt64, systemNs: UInt64, idleNs: UInt64, count: UInt32) {
        self.userNs = userNs; self.systemNs = systemNs; self.idleNs = idleNs; self.count = count
    }
}

/// One session's share, from its cgroup v2 leaf (§4.31). Without a cgroup only `session` and `pid` are sent.
public struct SessionStats: Sendable, Equatable {
    public var session: SessionID
    public var pid: Int32?
    /// cpu.stat `usage_usec`, `user_usec`, `system_usec`, in ns.
    public var cpuNs: UInt64?
    public var cpuUserNs: UInt64?
    public var cpuSystemNs: UInt64?
    /// memory.current and memory.peak (absent on kernels without memory.peak).
    public var memoryBytes: UInt64?
    public var memoryPeakBytes: UInt64?
    /// pids.current.
    public var pids: UInt32?
    /// memory.events `oom` and `oom_kill`.
    public var oomEvents: UInt64?
    public var oomKills: UInt64?

    public init(session: SessionID, pid: Int32? = nil, cpuNs: UInt64? = nil, cpuUserNs: UInt64? = nil,
                cpuSystemNs: UInt64? = nil, memoryBytes: UInt64? = nil, memoryPeakBytes: UInt64? = nil,
                pids: UInt32? = nil, oomEvents: UInt64? = nil, oomKills: UInt64? = nil) {
        self.session = session; self.pid = pid; self.cpuNs = cpuNs; self.cpuUserNs = cpuUserNs
        self.cpuSystemNs = cpuSystemNs; self.memoryBytes = memoryBytes; self.memoryPeakBytes = memoryPeakBytes
        self.pids = pids; self.oomEvents = oomEvents; self.oomKills = oomKills
    }
}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension StatsRequest: Codable {}
extension StatsReport: Codable {
    enum CodingKeys: String, CodingKey {
        case id, memory, cpu, tasks, sessions
        case unixNs = "unix_ns", uptimeNs = "uptime_ns", loadMilli = "load_milli", oomKills = "oom_kills"
    }
}
extension GuestMemoryStats: Codable {
    enum CodingKeys: String, CodingKey {
        case totalBytes = "total_bytes", availableBytes = "available_bytes", freeBytes = "free_bytes"
    }
}
extension GuestCPUStats: Codable {
    enum CodingKeys: String, CodingKey { case count, userNs = "user_ns", systemNs = "system_ns", idleNs = "idle_ns" }
}
extension SessionStats: Codable {
    enum CodingKeys: String, CodingKey {
        case session, pid, pids
        case cpuNs = "cpu_ns", cpuUserNs = "cpu_user_ns", cpuSystemNs = "cpu_system_ns", memoryBytes = "memory_bytes"
        case memoryPeakBytes = "memory_peak_bytes", oomEvents = "oom_events", oomKills = "oom_kills"
    }
}
#endif
