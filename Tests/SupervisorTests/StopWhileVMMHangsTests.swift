import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
import VsockTransport

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
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "deaf", bootTimeout: 5, command: ["true"]), environment: env)
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        let directory = h.stateRoot + "/deaf"

        // The stop request has gone to the VMM once this event is written (the boot timeout is 5 s so that a
        // simulator slow to start on a loaded machine still counts as booted).
        var events = ""
        _ = Deadline(seconds: 20).poll(every: 0.02) {
            events = FileContents.text(directory + "/events.jsonl") ?? ""
            return events.contains("asking the VMM") || !vm.isRunning
        }
        #expect(events.contains("asking the VMM"), "no VMM stop request: \(events) \(vm.stderr)")

        // Several pings across the window in which the VMM's answer is outstanding: each within 1 s.
        for round in 1...3 {
            let started = ContinuousClock.now
            let answered = try Self.ping(directory + "/control.sock", id: UInt64(round), timeout: .seconds(1))
            #expect(answered, "ping \(round) unanswered after \(ContinuousClock.now - started): \(vm.stderr)")
            #expect(vm.isRunning, "the supervisor ended before ping \(round)")
            Deadline.sleep(0.5)
        }

        // The stop is bounded: the supervisor kills the VMM and exits with "vm-init unreachable".
        let status = vm.wait(timeout: 30)
        #expect(status == .exited(121), "\(vm.stderr)")
        #expect(vm.stderr.contains("Ctrl-Alt-Del through the VMM"), "\(vm.stderr)")
        #expect(processesMatching(directory).isEmpty, "VMM left behind")
    }

    /// Connects to the control socket, says hello, sends `ping` and waits up to `timeout` for the `pong`.
    private static func ping(_ path: String, id: UInt64, timeout: Duration) throws -> Bool {
        let channel = try FrameChannel.connect(unixPath: path)
        try channel.send(.hello(Hello(role: .client, agent: "stop-test")))
        try channel.send(.ping(Ping(id: id)))
        do {
            _ = try channel.receive(until: { if case .pong(let pong) = $0.message { pong.id == id } else { false } },
                                    deadline: Clock.deadline(after: timeout))
            return true
        } catch {
            return false
        }
    }
}
