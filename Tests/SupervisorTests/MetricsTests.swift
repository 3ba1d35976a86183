import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing

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
