import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

extension FrameClient {
    /// Pumps until a frame of one of `types` (not stdio, exit, started or window) arrives; returns and removes it.
    func next(_ types: Set<String>, timeout: Double = 20) throws -> Message {
        try pump(until: { others.contains { types.contains($0.message.type) } }, timeout: timeout)
        guard let index = others.firstIndex(where: { types.contains($0.message.type) }) else {
            throw HarnessError("no \(types) frame")
        }
        return others.remove(at: index).message
    }

    /// Pumps whatever arrives for `seconds`.
    func pump(for seconds: Double) throws {
        let until = Deadline(seconds: seconds)
        while !until.hasPassed {
            if try pollReadable(Int32(max(1, until.remaining * 1000))) { try pump(timeout: 1) }
        }
    }
}

/// `usage_usec` of a cgroup's cpu.stat (present in every cgroup v2 directory, controllers or not).
private func cpuMicroseconds(_ directory: String) -> UInt64? {
    guard let text = try? Files.readText(directory + "/cpu.stat") else { return nil }
    return text.split(separator: "\n").first { $0.hasPrefix("usage_usec ") }.flatMap { UInt64($0.dropFirst(11)) }
}

private let entropy = (0..<32).map { _ in UInt8.random(in: 0...255) }

extension NamespaceTests {
    /// `freeze` / `thaw` / `resume` (PROTOCOL.md §4.25–§4.30) against vm-init as PID 1. The namespace has no
    /// CAP_SYS_TIME, so `resume` cannot step the host's wall clock (it reports no `clock_step_ns`); the real step
    /// is proven under QEMU by the snapshot E2E test.
    @Suite struct Snapshot {
        @Test func frozenFollowsAllOutputAndTheCgroupStopsTheFlooder() throws {
            let cgroup = try TestCgroup()
            defer { cgroup.remove() }
            try withGuest(cgroup: cgroup.path, withoutClockSetting: true) { guest in
                let client = try guest.connect(window: 65536)
                client.exec(ExecRequest(session: 1, argv: ["yes", "flood"]))
                try client.pump(until: { (client.results[1]?.stdout.count ?? 0) > 1 << 20 })
                // Session 2 writes exactly 200,000 bytes, and its reader stalls: 64 KiB go out, the rest waits in
                // vm-init. `frozen` must come after all of it.
                client.stalled.insert(2)
                client.exec(ExecRequest(session: 2, argv: ["sh", "-c", "head -c 200000 /dev/zero; exec sleep 100"]))
                try client.pump(until: { (client.results[2]?.stdout.count ?? 0) >= 65536 })
                try client.pump(for: 0.3)
                #expect(client.results[2]?.stdout.count == 65536)

                client.send(.freeze(FreezeRequest(timeoutMs: 10000)))
                client.releaseStall(2)
                guard case .frozen(let report) = try client.next(["frozen", "error"]) else {
                    Issue.record("no frozen: \(client.others)"); return
                }
                #expect(client.results[2]?.stdout.count == 200_000)
                #expect(report.method == .cgroup)
                #expect(report.sync)
                #expect(report.fsfreeze.isEmpty, "never the host's file systems")
                #expect(report.sessions.map(\.session) == [1, 2])
                #expect(report.sessions.allSatisfy { $0.attached })
                #expect(report.timingsUs.total >= report.timingsUs.freeze)
                #expect(cgroup.read("fc-sessions/1/cgroup.events")?.contains("frozen 1") == true)

                // Quiet while frozen: no output, and the flooder uses no CPU.
                let outputAtFrozen = client.results[1]?.stdout.count ?? 0
                let cpuAtFrozen = cpuMicroseconds(cgroup.path + "/fc-sessions/1")
                try client.pump(for: 0.4)
                #expect(client.results[1]?.stdout.count == outputAtFrozen)
                #expect(cpuAtFrozen != nil)
                #expect(cpuMicroseconds(cgroup.path + "/fc-sessions/1") == cpuAtFrozen)

                client.send(.thaw(ThawRequest()))
                guard case .thawed = try client.next(["thawed", "error"]) else { Issue.record("no thawed"); return }
                try client.pump(until: { (client.results[1]?.stdout.count ?? 0) > outputAtFrozen + (1 << 20) })
                #expect((cpuMicroseconds(cgroup.path + "/fc-sessions/1") ?? 0) > (cpuAtFrozen ?? .max))
                #expect(cgroup.read("fc-sessions/1/cgroup.events")?.contains("frozen 0") == true)
            }
        }

        @Test func refusalsWhileFrozenAndANewConnectionIsServed() throws {
            try withGuest(withoutClockSetting: true) { guest in
                let client = try guest.connect()
                client.send(.resume(ResumeRequest(unixNs: 1, generation: 1, entropyBytes: entropy)))
                guard case .error(let notFrozen) = try client.next(["error", "resumed"]) else { Issue.record("resumed"); return }
                #expect(notFrozen.code == .invalidState)
                client.send(.thaw(ThawRequest()))
                guard case .error(let notFrozenThaw) = try client.next(["error", "thawed"]) else { Issue.record("thawed"); return }
                #expect(notFrozenThaw.code == .invalidState)

                client.exec(ExecRequest(session: 1, argv: ["yes"]))
                try client.pump(until: { (client.results[1]?.stdout.count ?? 0) > 100_000 })
                client.send(.freeze(FreezeRequest()))
                guard case .frozen(let report) = try client.next(["frozen", "error"]) else { Issue.record("not frozen"); return }
                // No cgroup of its own here: the namespace shares the test's cgroup, so SIGSTOP.
                #expect(report.method == .sigstop)
                let outputAtFrozen = client.results[1]?.stdout.count ?? 0
                try client.pump(for: 0.3)
                #expect(client.results[1]?.stdout.count == outputAtFrozen)

                client.send(.freeze(FreezeRequest()))
                guard case .error(let twice) = try client.next(["error", "frozen"]) else { Issue.record("froze twice"); return }
                #expect(twice.code == .invalidState)
                let refused = try client.run(ExecRequest(session: 2, argv: ["true"]))
                #expect(refused.startFailed?.stage == "validate")
                #expect(refused.startFailed?.message == "guest is frozen for a snapshot")

                // A second host (as after a restore) says hello and is served while frozen.
                let second = try guest.connect()
                #expect(second.guestHello?.capabilities.contains("snapshot") == true)
                second.send(.ping(Ping(id: 77)))
                guard case .pong(let pong) = try second.next(["pong"]) else { return }
                #expect(pong.id == 77)
                second.send(.sessions(SessionList()))
                guard case .sessions(let list) = try second.next(["sessions"]) else { return }
                #expect(list.sessions?.map(\.session) == [1])

                second.send(.thaw(ThawRequest()))
                guard case .thawed = try second.next(["thawed", "error"]) else { Issue.record("no thawed"); return }
                try client.pump(until: { (client.results[1]?.stdout.count ?? 0) > outputAtFrozen + 100_000 })
                let ok = try client.run(ExecRequest(session: 3, argv: ["true"]))
                #expect(ok.exit?.status.code == 0)
            }
        }

        @Test func resumeKeepsWhatItIsToldAndLosesTheRest() throws {
            let cgroup = try TestCgroup()
            defer { cgroup.remove() }
            try withGuest(cgroup: cgroup.path, withoutClockSetting: true) { guest in
                let old = try guest.connect()
                old.exec(ExecRequest(session: 1, argv: ["sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done"]))
                old.exec(ExecRequest(session: 2, argv: ["sh", "-c", "sleep 100 & wait"]))
                try old.pump(until: { old.results[1]?.stdoutText.contains("3\n") == true && old.results[2]?.started != nil })
                old.send(.freeze(FreezeRequest()))
                guard case .frozen(let report) = try old.next(["frozen", "error"]) else { Issue.record("not frozen"); return }
                #expect(report.method == .cgroup)
                #expect(report.sessions.map(\.session) == [1, 2])
                old.close()  // the restored VM's old connection is gone

                let host = try guest.connect()
                host.send(.resume(ResumeRequest(unixNs: SystemControl.wallClockNanoseconds(), generation: 7,
                                                entropyBytes: entropy, keep: [1], hostname: "clone-b")))
                guard case .resumed(let resumed) = try host.next(["resumed", "error"]) else {
                    Issue.record("no resumed: \(host.others)"); return
                }
                #expect(resumed.generation == 7)
                #expect(resumed.lost == [2])
                #expect(resumed.rngReseeded)
                // CAP_SYS_TIME is not ours here: the clock was not set, and `resumed` says so.
                #expect(resumed.clockStepNs == nil)
                #expect(guest.log().contains("resume: wall clock not set"))
                #expect(resumed.timingsUs.total >= resumed.timingsUs.thaw)

                host.send(.attach(SessionRef(session: 2)))
                host.send(.attach(SessionRef(session: 1)))
                try host.pump(until: { host.results[2]?.exit != nil })
                #expect(host.results[2]?.exit?.status.lost == "snapshot")
                #expect(host.results[2]?.exit?.status.signal == 9)
                // The lost session's whole leaf went, its background sleep included.
                let gone = Deadline(seconds: 10)
                while Files.isDirectory(cgroup.path + "/fc-sessions/2") && !gone.hasPassed { Deadline.sleep(0.02) }
                #expect(!Files.isDirectory(cgroup.path + "/fc-sessions/2"))
                // The kept one carries on counting on the new connection.
                try host.pump(until: { (host.results[1]?.stdout.count ?? 0) > 8 })
                #expect(host.results[1]?.exit == nil)
                let name = try host.run(ExecRequest(session: 3, argv: ["hostname"]))
                #expect(name.stdoutText == "clone-b\n")
                host.send(.resume(ResumeRequest(unixNs: 1, generation: 8, entropyBytes: entropy)))
                guard case .error(let again) = try host.next(["error", "resumed"]) else { Issue.record("resumed twice"); return }
                #expect(again.code == .invalidState)
            }
        }
    }
}
