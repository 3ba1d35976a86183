import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// Issue 18: the supervisor's heartbeat against the Firecracker simulator, whose guest is a real vm-init. SIGSTOP
/// of vm-init is a hung guest (its vsock relay keeps accepting bytes, nothing answers).
@Suite(.serialized) struct HeartbeatTests {
    static let interval = 0.4

    @Test func aStoppedGuestIsUnresponsiveWithinTwoIntervalsAndHealthyAfterSIGCONT() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "hb", extra: ["--heartbeat-interval", "\(Self.interval)"],
                                                                 command: ["sleep", "60"]), environment: h.environment())
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        let directory = h.stateRoot + "/hb"
        try LifecycleTests.waitForState("running", in: directory, vm: vm)
        #expect(Deadline(seconds: 5).poll { Self.health(directory) == "healthy" }, "\(LifecycleTests.state(directory) ?? "")")
        let guest = try #require(Self.vmInit(under: directory), "no vm-init under the simulator")
        defer { kill(guest, SIGCONT) }

        let stoppedAt = Date()
        #expect(kill(guest, SIGSTOP) == 0)
        #expect(Deadline(seconds: 10).poll { Self.health(directory) == "unresponsive" }, "\(vm.stderr)")
        // The verdict's own time stamp: within two intervals of the stop (plus scheduling slack on a busy machine).
        let unresponsive = try #require(Self.events(directory).first { $0["event"] as? String == "unresponsive" })
        let seconds = (unresponsive["time_ns"] as? NSNumber).map { $0.doubleValue / 1e9 - stoppedAt.timeIntervalSince1970 }
        #expect(seconds.map { $0 > 0 && $0 <= 2 * Self.interval + 0.3 } == true, "unresponsive after \(seconds ?? -1) s")

        #expect(kill(guest, SIGCONT) == 0)
        #expect(Deadline(seconds: 10).poll { Self.health(directory) == "healthy" }, "\(vm.stderr)")
        let kinds = Self.events(directory).compactMap { $0["event"] as? String }.filter { $0 == "unresponsive" || $0 == "healthy" }
        #expect(kinds == ["unresponsive", "healthy"], "\(kinds)")
        // Still a working VM: the workload ends on SIGTERM as always.
        vm.kill(SIGTERM)
        #expect(vm.wait(timeout: 20) == .exited(143), "\(vm.stderr)")
    }

    @Test func theLivenessLimitStopsAHungGuestWithExitCode123() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "lv", extra: ["--heartbeat-interval", "0.3",
                                                                                    "--liveness-timeout", "1"],
                                                                 command: ["sleep", "60"]), environment: h.environment())
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        let directory = h.stateRoot + "/lv"
        try LifecycleTests.waitForState("running", in: directory, vm: vm)
        let guest = try #require(Self.vmInit(under: directory), "no vm-init under the simulator")
        defer { kill(guest, SIGCONT) }
        #expect(kill(guest, SIGSTOP) == 0)
        #expect(vm.wait(timeout: 40) == .exited(123), "\(vm.stderr)")
        #expect(vm.stderr.contains("answered no ping"), "\(vm.stderr)")
        #expect(processesMatching(h.stateRoot).isEmpty, "left running: \(processesMatching(h.stateRoot))")
    }

    /// The VMM pauses the guest while it writes a checkpoint; a checkpoint longer than the liveness limit must
    /// neither stop the VM (123) nor mark it unresponsive. (It did both before the heartbeat left checkpoints alone.)
    @Test func aCheckpointLongerThanTheLivenessLimitIsNotAHang() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let image = try TemporaryDirectory(prefix: "/var/tmp/fchb-")
        defer { image.remove() }
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "ck", extra: ["--heartbeat-interval", "0.2",
                                                                                    "--liveness-timeout", "1"],
                                                                 command: ["sleep", "60"]),
                                    environment: h.environment(["FCSIM_SNAPSHOT_DELAY_MS": "2500"]))
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        let directory = h.stateRoot + "/ck"
        try LifecycleTests.waitForState("running", in: directory, vm: vm)
        #expect(Deadline(seconds: 5).poll { Self.health(directory) == "healthy" }, "\(LifecycleTests.state(directory) ?? "")")

        let channel = try LifecycleTests.client(directory + "/control.sock")
        try channel.send(.lifecycle(LifecycleRequest(action: .checkpoint, imagePath: image.path)))
        let frames = try channel.receive(until: {
            switch $0.message { case .lifecycleDone, .error: true; default: false }
        }, deadline: Clock.deadline(after: .seconds(30)))
        let answer = frames.last?.message
        #expect(answer == .lifecycleDone(LifecycleDone(action: .checkpoint)), "\(String(describing: answer)) \(vm.stderr)")
        // A checkpoint without --leave-running ends the VM as runc's does: SIGKILL's status, not the hang's 123.
        #expect(vm.wait(timeout: 20) == .exited(137), "\(vm.stderr)")
        // The supervisor logs every health change on stderr ("… has not answered a ping …: unresponsive").
        #expect(!vm.stderr.contains("unresponsive") && !vm.stderr.contains("answered no ping"), "\(vm.stderr)")
        #expect(["vmm.json", "workload.json", "memory", "vmstate"].allSatisfy { FileManager.default.fileExists(atPath: image.file($0)) })
    }

    @Test func settingsThatCannotWorkAreRefusedByName() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let run = try runToEnd(h.supervisor, h.runArguments(id: "bad", extra: ["--heartbeat-interval", "0", "--liveness-timeout", "5"],
                                                            command: ["true"]), environment: h.environment())
        #expect(run.status == 64 && run.stderr.contains("needs the heartbeat"), "\(run)")
    }

    // MARK: - Helpers

    static func health(_ directory: String) -> String? {
        guard let data = FileContents.bytes(directory + "/state.json"),
              let object = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any] else { return nil }
        return object["health"] as? String
    }

    static func events(_ directory: String) -> [[String: Any]] {
        (FileContents.text(directory + "/events.jsonl") ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// The vm-init (PID 1 of the simulated guest) descending from the VMM recorded in `state.json`.
    static func vmInit(under directory: String) -> Int32? {
        guard let data = FileContents.bytes(directory + "/state.json"),
              let object = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any],
              let vmm = (object["vmm_pid"] as? NSNumber)?.int32Value else { return nil }
        func parent(_ pid: Int32) -> Int32? {
            guard let stat = FileContents.text("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").dropFirst().first.flatMap { Int32($0) }
        }
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.first { pid in
            guard FileContents.text("/proc/\(pid)/comm") == "vm-init\n" else { return false }
            var ancestor = parent(pid)
            while let current = ancestor, current > 1 {
                if current == vmm { return true }
                ancestor = parent(current)
            }
            return false
        }
    }
}
