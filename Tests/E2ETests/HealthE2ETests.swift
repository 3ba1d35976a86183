import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing

/// Issue 18 in a real VM: the heartbeat against QEMU's own `stop`/`cont` (a second QMP socket, `monitor.sock`).
@Suite("Health end-to-end", .serialized)
struct HealthE2ETests {
    @Test("QMP stop → unresponsive within two intervals, cont → healthy, and the events say so")
    func heartbeatFollowsQEMUStopAndCont() throws {
        let env = try E2EEnvironment.get()
        let id = "beat"
        let interval = 0.5
        let vm = try ChildUnderTest(env.supervisor, ["run", "--heartbeat-interval", "\(interval)"]
                                        + env.run(id: id, command: ["sleep", "600"]).dropFirst())
        defer { if vm.isRunning { vm.kill(SIGKILL); vm.wait(timeout: 5) } }
        try #require(env.waitUntilReady(id: id, process: vm), "vm-init never said hello: \(vm.stderr)")
        let directory = "\(env.stateRoot)/\(id)"
        #expect(Deadline(seconds: 10).poll { health(directory) == "healthy" }, "\(vm.stderr)")

        let monitor = try QMP(path: directory + "/monitor.sock")
        let stoppedAt = Date()
        try monitor.execute("stop")
        #expect(Deadline(seconds: 10).poll { health(directory) == "unresponsive" }, "\(vm.stderr)")
        let unresponsive = try #require(env.event("unresponsive", id: id))
        let seconds = (unresponsive["time_ns"] as? NSNumber).map { $0.doubleValue / 1e9 - stoppedAt.timeIntervalSince1970 }
        // Two intervals, plus slack for a machine shared with builds.
        #expect(seconds.map { $0 > 0 && $0 <= 2 * interval + 0.5 } == true, "unresponsive after \(seconds ?? -1) s")
        try monitor.execute("cont")
        #expect(Deadline(seconds: 10).poll { health(directory) == "healthy" }, "\(vm.stderr)")
        #expect(env.event("healthy", id: id) != nil)
        vm.kill(SIGTERM)
        #expect(vm.wait(timeout: 30) == .exited(143), "\(vm.stderr)")
    }

    func health(_ directory: String) -> String? {
        guard let data = FileContents.bytes(directory + "/state.json"),
              let object = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any] else { return nil }
        return object["health"] as? String
    }
}

/// A blocking QMP client, enough for `stop` and `cont`: greeting, `qmp_capabilities`, then one command at a time.
final class QMP {
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []

    init(path: String) throws {
        fd = try UnixSocket.connect(path: path)
        _ = try line()  // {"QMP": …}
        try execute("qmp_capabilities")
    }

    deinit { fd.close() }

    /// Runs `command` and requires `{"return": …}` (skipping asynchronous events).
    func execute(_ command: String) throws {
        try fd.writeAll(Array("{\"execute\":\"\(command)\"}\n".utf8))
        while true {
            let reply = try line()
            if reply.contains("\"return\"") { return }
            if reply.contains("\"error\"") { throw HarnessError("QMP \(command): \(reply)") }
        }
    }

    private func line() throws -> String {
        while true {
            if let end = buffer.firstIndex(of: 10) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                return text
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            guard let n, n > 0 else { throw HarnessError("QMP closed the connection") }
            buffer += chunk[..<n]
        }
    }
}
