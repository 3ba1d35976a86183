import Foundation
import Glibc
import LinuxSystem
import Testing
import VsockProtocol

/// Issue 14: stopping never blocks the supervisor's event loop. The guest never says hello (hostile-guest
/// `silent`), so at the boot deadline the supervisor stops the VM through the VMM, and the simulated Firecracker
/// never answers that `SendCtrlAltDel` (FCSIM_IGNORE_CTRL_ALT_DEL=1). The control socket must keep answering
/// `ping` meanwhile, and the stop must still end, bounded, with exit 121.
@Suite(.serialized) struct StopWhileVMMHangsTests {
    @Test func controlSocketAnswersPingWhileTheVMMIgnoresItsStopRequest() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let env = h.environment(["FCSIM_GUEST_INIT": HostileGuestTests.hostileGuest, "HOSTILE_GUEST_MODE": "silent",
                                 "FCSIM_IGNORE_CTRL_ALT_DEL": "1"])
        let vm = try RunningProcess(h.supervisor, h.runArguments(id: "deaf", bootTimeout: 5, command: ["true"]), environment: env)
        defer { if vm.isRunning { kill(vm.pid, SIGKILL); vm.wait() } }
        let directory = h.stateRoot + "/deaf"

        // The stop request has gone to the VMM once this event is written (the boot timeout is 5 s so that a
        // simulator slow to start on a loaded machine still counts as booted).
        let asked = Date().addingTimeInterval(20)
        var events = ""
        while Date() < asked && !events.contains("asking the VMM") && vm.isRunning {
            usleep(20_000)
            events = (try? String(contentsOfFile: directory + "/events.jsonl", encoding: .utf8)) ?? ""
        }
        #expect(events.contains("asking the VMM"), "no VMM stop request: \(events) \(vm.stderr)")

        // Several pings across the window in which the VMM's answer is outstanding: each within 1 s.
        for round in 1...3 {
            let started = ContinuousClock.now
            let answered = try Self.ping(directory + "/control.sock", id: UInt64(round), timeout: .seconds(1))
            #expect(answered, "ping \(round) unanswered after \(ContinuousClock.now - started): \(vm.stderr)")
            #expect(vm.isRunning, "the supervisor ended before ping \(round)")
            usleep(500_000)
        }

        // The stop is bounded: the supervisor kills the VMM and exits with "vm-init unreachable".
        let status = vm.wait(timeout: 30)
        #expect(status == 121, "\(vm.stderr)")
        #expect(vm.stderr.contains("Ctrl-Alt-Del through the VMM"), "\(vm.stderr)")
        #expect(processesMatching(directory).isEmpty, "VMM left behind")
    }

    /// Connects to the control socket, says hello, sends `ping` and waits up to `timeout` for the `pong`.
    private static func ping(_ path: String, id: UInt64, timeout: Duration) throws -> Bool {
        let fd = try UnixSocket.connect(path: path)
        defer { fd.close() }
        var bytes: [UInt8] = []
        Frame.encode(.hello(Hello(role: .client, agent: "stop-test")), into: &bytes)
        Frame.encode(.ping(Ping(id: id)), into: &bytes)
        try fd.writeAll(bytes)
        var decoder = FrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let n = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) } ?? 0
            guard n > 0 else { return false }
            decoder.append(buffer[..<n])
            while let item = decoder.next() {
                if case .frame(let frame) = item, case .pong(let pong) = frame.message, pong.id == id { return true }
            }
        }
        return false
    }
}
