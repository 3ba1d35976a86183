#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import LinuxSystem

/// Firecracker's own metrics: the JSON lines it writes to its `PUT /metrics` file on every `FlushMetrics` (and
/// every 60 s), accumulated for `--metrics-listen`.
///
/// Each line is `{"utc_timestamp_ms": …, "<group>": {"<name>": <number>, …}, …}`. Firecracker's `SharedIncMetric`
/// values (almost all of them: requests, bytes, exits, fails) are the increment since the previous flush, so
/// they are summed here; its `SharedStoreMetric` values are times in microseconds (`latencies_us.*`,
/// `process_startup_time_us`, every name ending in `_us`), a last value, kept as gauges. Only `group.name` leaves
/// are read: top-level scalars (the timestamp) and deeper objects (aggregates such as `{min_us, max_us, sum_us}`)
/// are not counters and are skipped. The file is written by the VMM, so it is untrusted: a line that is not a
/// JSON object of that shape is skipped and counted, non-finite or negative values are dropped, and both the
/// bytes read per scrape and the number of series are capped.
struct FirecrackerMetrics {
    /// At most this much of the file is read per scrape; the rest waits for the next one.
    static let readLimit = 256 * 1024
    /// A line longer than this (no newline yet) is dropped as malformed: Firecracker's are a few KiB.
    static let lineLimit = 64 * 1024
    /// Series beyond this many (group, name) pairs are ignored: a hostile file cannot grow the supervisor.
    static let seriesLimit = 4096

    struct Key: Hashable, Comparable {
        let group: String
        let name: String
        static func < (a: Key, b: Key) -> Bool { (a.group, a.name) < (b.group, b.name) }
    }

    private(set) var totals: [Key: Double] = [:]
    private(set) var lastValues: [Key: Double] = [:]
    private(set) var lines: UInt64 = 0
    private(set) var malformedLines: UInt64 = 0
    /// How far the file has been read.
    private(set) var offset: Int64 = 0
    /// The start of a line whose newline has not been written yet.
    private var pending: [UInt8] = []

    /// Reads what the VMM appended since the last call (up to `readLimit`) and accumulates its complete lines.
    mutating func readNew(from path: String) throws(SystemError) {
        let fd = try FileDescriptor.open(path, flags: O_RDONLY | O_CLOEXEC)
        defer { fd.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readLimit, alignment: 1)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < buffer.count {
            let count = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), atOffset: offset + Int64(filled))
            if count == 0 { break }
            filled += count
        }
        offset += Int64(filled)
        consume([UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<filled]))[...])
    }

    /// Splits `bytes` (following what came before) into lines; a trailing partial line waits for its newline.
    mutating func consume(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending + rest[rest.startIndex..<newline]
            pending.removeAll()
            rest = rest[(newline + 1)...]
            if line.count > Self.lineLimit { malformedLines += 1 } else if !line.isEmpty { accumulate(line) }
        }
        if pending.count + rest.count > Self.lineLimit {
            // Counted once, when its newline finally arrives (the length check above); keep only a marker's worth.
            pending = [UInt8](repeating: UInt8(ascii: " "), count: Self.lineLimit + 1)
        } else {
            pending += rest
        }
    }

    /// One complete line: a JSON object of groups of numbers.
    mutating func accumulate(_ line: [UInt8]) {
        guard let document = try? JSONDecoder().decode([String: Leaf].self, from: Data(line)) else {
            malformedLines += 1
            return
        }
        lines += 1
        for (group, value) in document {
            guard case .group(let members) = value else { continue }
            for (name, member) in members {
                guard case .number(let number) = member, number.isFinite, number >= 0 else { continue }
                let key = Key(group: group, name: name)
                if name.hasSuffix("_us") || group == "latencies_us" {
                    if lastValues[key] != nil || lastValues.count + totals.count < Self.seriesLimit { lastValues[key] = number }
                } else if totals[key] != nil || lastValues.count + totals.count < Self.seriesLimit {
                    totals[key, default: 0] += number
                }
            }
        }
    }

    /// One JSON value, as far as it matters here: numbers, objects of them, or anything else.
    enum Leaf: Decodable {
        case number(Double)
        case group([String: Leaf])
        case other

        init(from decoder: any Decoder) throws {
            let single = try? decoder.singleValueContainer()
            // A Bool decodes from `true` only, never from a number: check it first so true is not 1.
            if let single, (try? single.decode(Bool.self)) != nil { self = .other; return }
            if let single, let number = try? single.decode(Double.self) { self = .number(number); return }
            if let members = try? [String: Leaf](from: decoder) { self = .group(members); return }
            self = .other
        }
    }

    /// `fc_firecracker_metric_total{group,name}` and `fc_firecracker_metric{group,name}`: one family each, since
    /// Firecracker's names are data (per-device groups such as `net_eth0`, `block_rootfs`), so they go into
    /// label values (escaped, any text allowed) rather than metric names, which would need sanitizing and could
    /// collide.
    func render(into m: inout MetricsText, labels id: [(String, String)]) {
        m.sample("fc_firecracker_metrics_lines_total", .counter, "Metrics lines read from Firecracker's metrics file.",
                 labels: id, Double(lines))
        m.sample("fc_firecracker_metrics_malformed_lines_total", .counter,
                 "Lines of Firecracker's metrics file skipped: not a JSON object, or too long.", labels: id, Double(malformedLines))
        for (key, value) in totals.sorted(by: { $0.key < $1.key }) {
            m.sample("fc_firecracker_metric_total", .counter,
                     "Firecracker's counters (increments per flush, summed), by metrics group and name.",
                     labels: id + [("group", key.group), ("name", key.name)], value)
        }
        for (key, value) in lastValues.sorted(by: { $0.key < $1.key }) {
            m.sample("fc_firecracker_metric", .gauge, "Firecracker's last stored values (times in microseconds).",
                     labels: id + [("group", key.group), ("name", key.name)], value)
        }
    }
}
