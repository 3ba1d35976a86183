import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VMM

/// Firecracker snapshots through the VMM driver against the simulator (which checks every body against the
/// v1.16.1 spec): create on a paused VM, load into a fresh process with the clone's own vsock socket, and the
/// refusals (1.16.0, a truncated memory file, another machine size) before anything is loaded.
@Suite(.serialized) struct SnapshotSimulatorTests {
    private func config(_ h: SimulatorHarness, id: String) -> VMConfig {
        var config = VMConfig(id: id)
        config.firecrackerBin = h.simulator
        config.kernel = h.kernel
        config.vcpus = 1
        config.memoryMiB = 64
        config.stateRoot = h.stateRoot
        return config
    }

    private func driver(_ h: SimulatorHarness, _ config: VMConfig, extra: [String: String] = [:]) throws -> any VMMDriver {
        let directory = h.stateRoot + "/" + config.id
        try Files.makeDirectories(directory)
        let environment = h.environment(extra).map { "\($0.key)=\($0.value)" }
        return makeVMMDriver(config: config, paths: VMMPaths(directory: directory), environment: environment)
    }

    private func requests(_ h: SimulatorHarness, _ path: String) -> [[String: Any]] {
        (FileContents.text(h.requestLog) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["path"] as? String == path }
    }

    /// Boots VM `a` and snapshots it into `<stateRoot>/snap`.
    private func snapshot(_ h: SimulatorHarness) throws -> VMMSnapshotFiles {
        let files = VMMSnapshotFiles(directory: h.stateRoot + "/snap")
        try Files.makeDirectories(files.directory)
        let original = try driver(h, config(h, id: "a"))
        defer { original.process?.waitOrKill(timeout: .zero); original.cleanup() }
        try original.boot(deadline: Clock.deadline(after: .seconds(20)))
        let loop = try EventLoop()
        var outcome: VMMError?? = .none
        original.createSnapshot(files, on: loop) { error in
            outcome = .some(error)
            loop.stop()
        }
        loop.addTimer(after: .seconds(20)) { loop.stop() }
        try loop.run()
        try #require(outcome != nil, "no answer to the snapshot")
        #expect(outcome! == nil, "\(String(describing: outcome))")
        return files
    }

    @Test func createOnAPausedVMAndLoadWithTheClonesOwnVsock() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let files = try snapshot(h)
        let paused = requests(h, "/vm").compactMap { $0["body"] as? [String: Any] }
        #expect(paused.first?["state"] as? String == "Paused")
        let create = try #require(requests(h, "/snapshot/create").first)
        #expect(create["status"] as? Int == 204, "\(create)")
        let info = try VMMSnapshotInfo.check(files, against: config(h, id: "b"))
        #expect(info.vmm == "firecracker" && info.version == "1.16.1" && info.files["memory"] == 64 << 20)

        let clone = try driver(h, config(h, id: "b"))
        defer { clone.process?.waitOrKill(timeout: .zero); clone.cleanup() }
        try clone.restore(from: files, deadline: Clock.deadline(after: .seconds(20)))
        #expect(clone.process?.isRunning == true)
        let load = try #require(requests(h, "/snapshot/load").first)
        #expect(load["status"] as? Int == 204, "\(load)")
        let body = try #require(load["body"] as? [String: Any])
        #expect((body["vsock_override"] as? [String: Any])?["uds_path"] as? String == h.stateRoot + "/b/vsock.sock")
        #expect(body["resume_vm"] as? Bool == true)
        #expect((body["mem_backend"] as? [String: Any])?["backend_type"] as? String == "File")
        // Nothing but the logger comes before the load (a boot-path resource would make Firecracker refuse it).
        let paths = (FileContents.text(h.requestLog) ?? "").split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["path"] as? String
        }
        #expect(Array(paths.suffix(2)) == ["/logger", "/snapshot/load"], "\(paths)")
    }

    @Test func refusalsLeaveNothingRunning() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let files = try snapshot(h)
        // 1.16.0 can leave vsock dead after a restore: refused by name, the VMM it launched is gone.
        let old = try driver(h, config(h, id: "old"), extra: ["FCSIM_VERSION": "1.16.0"])
        #expect {
            try old.restore(from: files, deadline: Clock.deadline(after: .seconds(20)))
        } throws: { ($0 as? VMMError)?.message.contains("1.16.0") == true && ($0 as? VMMError)?.message.contains("#5958") == true }
        #expect(old.process?.isRunning != true)
        #expect(requests(h, "/snapshot/load").isEmpty)
        old.cleanup()

        var bigger = config(h, id: "big")
        bigger.memoryMiB = 128
        #expect { try VMMSnapshotInfo.check(files, against: bigger) } throws: {
            ($0 as? VMMError)?.message.contains("64 MiB") == true
        }
        #expect(truncate(files.memory, 1 << 20) == 0)
        let clone = try driver(h, config(h, id: "t"))
        #expect { try clone.restore(from: files, deadline: Clock.deadline(after: .seconds(20))) } throws: {
            ($0 as? VMMError)?.message.contains("truncated") == true
        }
        #expect(clone.process == nil)
        try Files.remove(files.memory)
        #expect { try VMMSnapshotInfo.check(files, against: config(h, id: "m")) } throws: {
            ($0 as? VMMError)?.message.contains("memory is missing") == true
        }
    }
}
