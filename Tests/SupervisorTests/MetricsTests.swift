import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
@testable import Supervisor

/// Issue 18: `--metrics-listen` against the Firecracker simulator. `promtool check metrics` (Debian's
/// `prometheus`, installed by `make deps`) must accept a scrape, and the values must be the VM's.
@Suite(.serialized) struct MetricsTests {
    @Test func aScrapePassesPromtoolAndCarriesTheVMsNumbers() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let socket = h.stateRoot + "-metrics.sock"
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "mx", extra: ["--heartbeat-interval", "0.2",
                                                                                    "--metrics-listen", "unix:" + socket],
                                                                 command: ["sh", "-c", "head -c 5000 /dev/zero; sleep 30"]),
                                    environment: h.environment())
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        try LifecycleTests.waitForState("running", in: h.stateRoot + "/mx", vm: vm)
        // A few heartbeats and the workload's 5000 bytes.
        #expect(Deadline(seconds: 10).poll { vm.stdout.utf8.count == 5000 })
        Deadline.sleep(0.6)

        let text = try Self.scrape(socket)
        let check = try runToEnd("/usr/bin/promtool", ["check", "metrics"], input: Array(text.utf8), timeout: 30)
        #expect(check.exitCode == 0, "promtool: \(check)\n\(text)")
        func value(_ series: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(value(#"fc_vm_state{id="mx",state="running"}"#) == 1, "\(text)")
        #expect(value(#"fc_vm_healthy{id="mx"}"#) == 1)
        #expect(value(#"fc_vm_sessions_started_total{id="mx"}"#) == 1)
        #expect(value(#"fc_vm_stdio_received_bytes_total{id="mx"}"#) == 5000)
        #expect((value(#"fc_vm_ping_rtt_seconds_count{id="mx"}"#) ?? 0) >= 2)
        // The simulated guest shares the host's kernel: its MemTotal is the host's.
        let hostTotal = (FileContents.text("/proc/meminfo") ?? "").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.split(separator: " ")[1]) }.map { $0 * 1024 }
        #expect(value(#"fc_guest_memory_total_bytes{id="mx"}"#) == hostTotal)
        let rss = try #require(value(#"fc_supervisor_resident_memory_bytes{id="mx"}"#))
        #expect(rss > 1_048_576 && rss < 1_073_741_824)
        // Anything but GET /metrics is 404.
        #expect(try Self.request(socket, "GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        vm.kill(SIGTERM)
        #expect(vm.wait(timeout: 20) == .exited(143), "\(vm.stderr)")
    }

    /// Firecracker's (here the simulator's) metrics lines are increments since the previous flush: every scrape
    /// flushes, and the exported counter is their sum, i.e. every API request the VMM has handled so far.
    @Test func firecrackersOwnCountersAccumulateAcrossScrapes() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let socket = h.stateRoot + "-metrics.sock"
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "fm", extra: ["--metrics-listen", "unix:" + socket],
                                                                 command: ["sleep", "30"]),
                                    environment: h.environment())
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        try LifecycleTests.waitForState("running", in: h.stateRoot + "/fm", vm: vm)
        func requestsHandled() -> Double {
            Double((FileContents.text(h.requestLog) ?? "").split(separator: "\n").count)
        }
        let series = #"fc_firecracker_metric_total{id="fm",group="api_server",name="requests"}"#
        var seen: [Double] = []
        for _ in 0..<2 {
            let text = try Self.scrape(socket)
            func value(_ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let check = try runToEnd("/usr/bin/promtool", ["check", "metrics"], input: Array(text.utf8), timeout: 30)
            #expect(check.exitCode == 0, "promtool: \(check)\n\(text)")
            // The boot's PUTs (logger, metrics, machine-config, …, InstanceStart) and this scrape's FlushMetrics.
            let handled = requestsHandled()
            #expect(value(series) == handled, "\(text)")
            #expect(value(#"fc_firecracker_metric{id="fm",group="api_server",name="process_startup_time_us"}"#) == 0)
            #expect(value(#"fc_firecracker_metrics_malformed_lines_total{id="fm"}"#) == 0)
            seen.append(value(#"fc_firecracker_metrics_lines_total{id="fm"}"#) ?? -1)
        }
        #expect(seen == [1, 2])
        let configured = (FileContents.text(h.requestLog) ?? "").contains(#""path": "/metrics""#)
        #expect(configured, "PUT /metrics was never sent")
        vm.kill(SIGTERM)
        #expect(vm.wait(timeout: 20) == .exited(143), "\(vm.stderr)")
    }

    /// The file is the VMM's: anything in it is skipped and counted, never trusted.
    @Test func parserSkipsHostileLinesAndSumsIncrements() {
        var metrics = FirecrackerMetrics()
        let deep = String(repeating: #"{"a":"#, count: 5000) + "1" + String(repeating: "}", count: 5000)
        let text = [
            #"{"utc_timestamp_ms": 1700000000000, "api_server": {"requests": 3, "process_startup_time_us": 120}, "net_eth0": {"rx_bytes_count": 1000}}"#,
            "not json at all",
            #"[1, 2, 3]"#,
            #"{"api_server": {"requests": 1e400}}"#,
            #"{"api_server": {"requests": -5, "ok": true, "name": "x", "nested": {"min_us": 7}, "nulls": null}}"#,
            #"{"api_server": {"requests": 18446744073709551615}}"#,
            deep,
            String(repeating: "x", count: FirecrackerMetrics.lineLimit + 10),
            #"{"api_server": {"requests": 2}, "latencies_us": {"pause_vm": 50}, "weird group\n\"": {"a.b-c": 4}}"#,
            #"{"api_server": {"requests": 1000"#,
        ].joined(separator: "\n")
        // Fed in two pieces split mid-line: the cut line is completed by the second piece.
        let bytes = Array(text.utf8)
        metrics.consume(bytes[..<100])
        metrics.consume(bytes[100...])
        let requests = FirecrackerMetrics.Key(group: "api_server", name: "requests")
        let sum: Double = 5 + 18446744073709551615.0
        #expect(metrics.totals[requests] == sum)
        #expect(metrics.totals[FirecrackerMetrics.Key(group: "net_eth0", name: "rx_bytes_count")] == 1000)
        #expect(metrics.totals[FirecrackerMetrics.Key(group: "weird group\n\"", name: "a.b-c")] == 4)
        #expect(metrics.lastValues[FirecrackerMetrics.Key(group: "api_server", name: "process_startup_time_us")] == 120)
        #expect(metrics.lastValues[FirecrackerMetrics.Key(group: "latencies_us", name: "pause_vm")] == 50)
        let skipped: Set<String> = ["ok", "name", "nested", "nulls", "min_us", "a"]
        let names = Set(metrics.totals.keys.map(\.name)).union(metrics.lastValues.keys.map(\.name))
        #expect(names.isDisjoint(with: skipped), "\(names)")
        // Read: lines 1, 4 (1e400 parses as infinity, a value then dropped), 5, 6, 9; malformed: not JSON, the
        // array, the deep nesting, the overlong line.
        #expect(metrics.lines == 5)
        #expect(metrics.malformedLines == 4)
        // The partial last line waits for its newline.
        metrics.consume(Array(", \"errors\": 1}}\n".utf8)[...])
        #expect(metrics.totals[requests] == sum + 1000)
        var m = MetricsText()
        metrics.render(into: &m, labels: [("id", "t")])
        #expect(m.text.contains(#"fc_firecracker_metric_total{id="t",group="weird group\n\"",name="a.b-c"} 4"#), "\(m.text)")
    }

    static func scrape(_ socket: String) throws -> String {
        let response = try request(socket, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        guard response.hasPrefix("HTTP/1.1 200"), let split = response.range(of: "\r\n\r\n") else {
            throw HarnessError("scrape: \(response)")
        }
        return String(response[split.upperBound...])
    }

    static func request(_ socket: String, _ text: String) throws -> String {
        let fd = try UnixSocket.connect(path: socket)
        defer { fd.close() }
        try fd.writeAll(Array(text.utf8))
        return String(decoding: try fd.readToEnd(limit: 1 << 20), as: UTF8.self)
    }
}
