import Foundation
import Glibc
import TestSupport
import Testing

/// VmHWM (peak resident set) of a live process, in KiB.
func peakRSSKiB(_ pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

extension ChildUnderTest {
    /// Waits for exit like ``wait(timeout:)`` while sampling VmHWM; returns (status, peak KiB, exited normally).
    func waitSamplingRSS(timeout: Double) -> (status: Int32, peakKiB: Int, normalExit: Bool) {
        var peak = 0
        _ = Deadline(seconds: timeout).poll(every: 0.02) {
            if let v = peakRSSKiB(pid) { peak = max(peak, v) }
            return !isRunning
        }
        let ended = wait(timeout: 1)
        return (ended.shellStatus, peak, !ended.signaled)
    }
}

/// Issue 7 (2): the real fc-supervisor against a malicious guest (Tests/Simulator/hostile-guest, run by the
/// simulator in place of vm-init). The supervisor must never crash, must bound its memory, and must end with its
/// documented code and a clear message when the guest makes progress impossible.
@Suite(.serialized) struct HostileGuestTests {
    static let hostileGuest = RepoPath.file("Tests/Simulator/hostile-guest")
    /// 64 MiB; ASan's shadow memory and quarantine inflate RSS (505 MiB measured), so `make check-sanitizers` sets FC_SANITIZER.
    static let memoryBoundKiB = (ProcessInfo.processInfo.environment["FC_SANITIZER"] == nil ? 64 : 1024) * 1024

    func start(_ h: SimulatorHarness, _ mode: String, id: String) throws -> ChildUnderTest {
        try ChildUnderTest(h.supervisor, h.runArguments(id: id, bootTimeout: 20, extra: ["--stop-timeout", "2"], command: ["workload"]),
                           environment: h.environment(["FCSIM_GUEST_INIT": Self.hostileGuest, "HOSTILE_GUEST_MODE": mode]))
    }

    /// Not hostile: a guest that takes payloads of at most 4 KiB gets its stdin in frames no larger, though the
    /// supervisor reads a pipe in up to 1 MiB (PROTOCOL.md §5.2: a frame carries min(credit, the peer's
    /// `max_payload`)). Every byte arrives.
    @Test func stdinFramesKeepToTheGuestsMaxPayload() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let input = [UInt8](repeating: 0x5A, count: 3 << 20)
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "hg-small", bootTimeout: 20, extra: ["--stop-timeout", "2"],
                                                                 command: ["workload"]),
                                    environment: h.environment(["FCSIM_GUEST_INIT": Self.hostileGuest,
                                                                "HOSTILE_GUEST_MODE": "small-payload"]),
                                    input: input)
        let status = vm.wait(timeout: 60).shellStatus
        #expect(status == 0, "status \(status): \(vm.stderr)")
        #expect(vm.stdout == "stdin 3145728 bytes, largest frame 4096\n", "\(vm.stderr)")
    }

    /// Not hostile: a guest booted an hour behind (QEMU's RTC has whole seconds, and may be far off), as its
    /// `hello` says. The supervisor sends `set_time` before the workload's `exec`, so the workload never runs on
    /// the wrong clock (the guest handles frames in order).
    @Test func theWorkloadStartsAfterTheGuestClockIsSet() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "clock-off", id: "hg-clock")
        let status = vm.wait(timeout: 60).shellStatus
        #expect(status == 0, "status \(status): \(vm.stderr)")
        #expect(vm.stdout == "clock set\n", "\(vm.stderr)")
    }

    @Test func garbageAndUnknownSessionsAreIgnoredAndTheWorkloadStillCompletes() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "unknown", id: "hg-unknown")
        let r = vm.waitSamplingRSS(timeout: 60)
        #expect(r.normalExit && r.status == 3, "status \(r.status): \(vm.stderr)")
        #expect(vm.stdout == "survived\n")
        #expect(vm.stderr.contains("unknown session 77"), "\(vm.stderr)")
        #expect(vm.stderr.contains("frame_too_large"))
        #expect(r.peakKiB > 0 && r.peakKiB < Self.memoryBoundKiB, "peak RSS \(r.peakKiB) KiB")
    }

    @Test func fourGiBFrameIsSkippedWithoutAllocatingAndControlStillAnswers() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "oversized", id: "hg-big")
        _ = Deadline(seconds: 30).poll(every: 0.05) { vm.stderr.contains("frame_too_large") }
        #expect(vm.stderr.contains("frame declares header 4294967295 B / payload 4294967295 B"), "\(vm.stderr)")
        Deadline.sleep(1)  // the guest streams 8 MiB into the skipped frame
        let state = try runToEnd(h.supervisor, ["state", "--state-dir", h.stateRoot, "hg-big"], environment: h.environment())
        #expect(state.status == 0, "control socket stopped answering: \(state)")
        vm.kill(SIGTERM)
        let r = vm.waitSamplingRSS(timeout: 60)
        // The guest never reports the exit: after SIGTERM, SIGKILL (2 s) and 5 s more, the supervisor gives up.
        #expect(r.normalExit && r.status == 122, "status \(r.status): \(vm.stderr)")
        #expect(vm.stderr.contains("did not report the workload's exit"))
        #expect(r.peakKiB < Self.memoryBoundKiB, "peak RSS \(r.peakKiB) KiB")
    }

    @Test func outputFloodIgnoringTheWindowKeepsMemoryBounded() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "flood", id: "hg-flood")
        let r = vm.waitSamplingRSS(timeout: 90)
        #expect(r.normalExit && r.status == 5, "status \(r.status): \(vm.stderr)")
        #expect(r.peakKiB > 0 && r.peakKiB < Self.memoryBoundKiB, "peak RSS \(r.peakKiB) KiB")
    }

    @Test func aGuestThatNeverReadsIsDroppedWithAClearError() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "never-read", id: "hg-deaf")
        let r = vm.waitSamplingRSS(timeout: 60)
        #expect(r.normalExit && r.status == 122, "status \(r.status): \(vm.stderr)")
        #expect(vm.stderr.contains("peer is not reading"), "\(vm.stderr.suffix(400))")
        #expect(r.peakKiB > 0 && r.peakKiB < Self.memoryBoundKiB, "peak RSS \(r.peakKiB) KiB")
    }

    @Test func halfAFrameThenSilenceDoesNotWedgeTheSupervisor() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "half-frame", id: "hg-half")
        Deadline.sleep(1.5)
        let state = try runToEnd(h.supervisor, ["state", "--state-dir", h.stateRoot, "hg-half"], environment: h.environment())
        #expect(state.status == 0, "\(state)")
        vm.kill(SIGTERM)
        let r = vm.waitSamplingRSS(timeout: 60)
        #expect(r.normalExit && r.status == 122, "status \(r.status): \(vm.stderr)")
    }

    @Test func aGuestThatDropsEveryConnectionEndsAsGuestLost() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try start(h, "storm", id: "hg-storm")
        let r = vm.waitSamplingRSS(timeout: 60)
        #expect(r.normalExit && (r.status == 122 || r.status == 121), "status \(r.status): \(vm.stderr)")
        #expect(vm.stderr.contains("guest connection closed") || vm.stderr.contains("hello"), "\(vm.stderr)")
        #expect(processesMatching(h.stateRoot).isEmpty, "VMM left behind")
    }
}
