import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime

/// runc's `events` (contract §2.4): `--stats` prints one `{"type":"stats","id":…,"data":{…}}` line; otherwise
/// a stats line every `--interval` (default 5s) and `{"type":"oom","id":…}` whenever the supervisor's
/// `events.jsonl` records an `oom`, until the container stops.
///
/// The stats are the guest's own (``GuestStatsEvent``, from vm-init's `stats_report`). When the guest cannot
/// answer (paused, hung, not yet connected) they are the VM's cost on the host, read from its VMM process: `cpu.usage.total/kernel/user` from
/// /proc/<vmm>/stat (utime+stime, in ns), `memory.usage.usage/max` from VmRSS/VmHWM in /proc/<vmm>/status,
/// `memory.usage.limit` from the bundle's `linux.resources.memory.limit` (0 when unset), `pids.current` the
/// host processes standing in for the container (`ps --format json`). The rest of runc's groups are empty.
struct RuncEventsCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print the container's stats and OOM events as JSON lines.")
    @Flag(name: .long, help: "Print one stats event and exit.") var stats = false
    @Option(name: .long, help: "Stats interval, Go syntax (5s, 500ms).") var interval = "5s"
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        var container = try Containers.load(root: globals.root, id: id)
        guard container.status != .stopped else { throw RuntimeFailure("container with id \(id) is not running") }
        guard let period = GoDuration.parse(interval), period > .zero else { throw RuntimeFailure("invalid interval \"\(interval)\"") }
        let limit = (try? OCIBundle.load(path: container.record.bundle))?.spec.linux?.resources?.memory?.limit ?? 0
        if stats {
            Output.write(VMStats.event(container, memoryLimit: limit, root: globals.root))
            return 0
        }
        var offset = 0
        var nextStats = Clock.deadline(after: period)
        while container.status != .stopped {
            for _ in OOMWatch.newEvents(container.directory.eventsFile, offset: &offset) {
                Output.write("{\"type\":\"oom\",\"id\":\(GoJSONText.string(id))}\n")
            }
            if nextStats.hasPassed {
                Output.write(VMStats.event(container, memoryLimit: limit, root: globals.root))
                nextStats = Clock.deadline(after: period)
            }
            Clock.sleep(.milliseconds(100))
            container = Containers.assemble(container.record, root: globals.root)
        }
        for _ in OOMWatch.newEvents(container.directory.eventsFile, offset: &offset) {
            Output.write("{\"type\":\"oom\",\"id\":\(GoJSONText.string(id))}\n")
        }
        // The stream ends with how the workload ended (runc has no such event; go-runc passes unknown types on).
        if let exit = container.snapshot?.exit {
            Output.write("{\"type\":\"exit\",\"id\":\(GoJSONText.string(id)),\"data\":\(ContainerState.exitJSON(exit))}\n")
        }
        return 0
    }
}

enum OOMWatch {
    /// The `oom` lines of `events.jsonl` past `offset` (complete lines only); advances `offset`.
    static func newEvents(_ path: String, offset: inout Int) -> [String] {
        guard let bytes = try? Files.readAll(path, limit: 64 << 20), bytes.count > offset else { return [] }
        guard let end = bytes.lastIndex(of: 0x0a), end >= offset else { return [] }
        let text = String(decoding: bytes[offset...end], as: UTF8.self)
        offset = end + 1
        return text.split(separator: "\n").map(String.init).filter { $0.contains("\"event\":\"oom\"") }
    }
}

enum VMStats {
    /// One stats line for `container`.
    static func event(_ container: Container, memoryLimit: Int64, root: String) -> String {
        if container.status == .running || container.status == .created,
           let report = try? ControlCommands.guestStats(stateRoot: root, id: container.record.id) {
            return GuestStatsEvent.json(id: container.record.id, report: report, memoryLimit: memoryLimit)
        }
        let vmm = container.snapshot?.vmmPid ?? 0
        let (user, kernel) = cpuNanoseconds(vmm)
        let (rss, peak) = memoryBytes(vmm)
        let pids = container.status == .stopped ? 0 : 1 + container.execPids.count
        let data = "{\"cpu\":{\"usage\":{\"total\":\(user + kernel),\"kernel\":\(kernel),\"user\":\(user)},\"throttling\":{}},"
            + "\"memory\":{\"usage\":{\"limit\":\(max(memoryLimit, 0)),\"usage\":\(rss),\"max\":\(peak),\"failcnt\":0},"
            + "\"swap\":{\"limit\":0,\"failcnt\":0},\"kernel\":{\"limit\":0,\"failcnt\":0},\"kernelTCP\":{\"limit\":0,\"failcnt\":0}},"
            + "\"pids\":{\"current\":\(pids)},\"blkio\":{},\"hugetlb\":{},\"intel_rdt\":{},\"network_interfaces\":null}"
        return "{\"type\":\"stats\",\"id\":\(GoJSONText.string(container.record.id)),\"data\":\(data)}\n"
    }

    /// utime and stime of `pid` in nanoseconds (0 when it is gone).
    static func cpuNanoseconds(_ pid: Int32) -> (user: UInt64, kernel: UInt64) {
        guard pid > 0, let stat = Files.readValue("/proc/\(pid)/stat", limit: 4096), let close = stat.lastIndex(of: ")") else { return (0, 0) }
        // Fields after the command: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else { return (0, 0) }
        let tick = UInt64(1_000_000_000) / UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return (utime * tick, stime * tick)
    }

    /// VmRSS and VmHWM of `pid` in bytes.
    static func memoryBytes(_ pid: Int32) -> (rss: UInt64, peak: UInt64) {
        guard pid > 0, let status = try? Files.readText("/proc/\(pid)/status", limit: 1 << 16) else { return (0, 0) }
        func kilobytes(_ key: String) -> UInt64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return line.split(separator: " ").dropFirst().first.flatMap { UInt64($0.trimmingCharacters(in: "\t ")) } ?? 0
        }
        return (kilobytes("VmRSS") * 1024, kilobytes("VmHWM") * 1024)
    }
}

/// Go's `time.ParseDuration` for what clients pass (`5s`, `500ms`, `1m30s`, `1.5s`).
enum GoDuration {
    static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            guard let scale = units.first(where: { $0.0 == unit })?.1 else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return .nanoseconds(Int64(total))
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return s
    }
}
