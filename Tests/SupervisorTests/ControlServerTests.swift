import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
import VsockTransport
@testable import Supervisor

/// The control socket's end. A checkpoint answers its client and kills the VMM in one loop turn; when the VMM is
/// reaped before the next turn, the loop stops with the `lifecycle_done` still queued. Closing must write it: runc's
/// checkpoint otherwise failed with "the peer closed the connection" and left no checkpoint (5 of 13 QEMU runs of
/// SnapshotE2ETests' checkpoint on 2026-12-01).
@Suite(.serialized) struct ControlServerTests {
    /// Answers `lifecycle` and stops the loop in the same turn, as `endAfterCheckpoint` does when the VMM is gone.
    final class AnswerThenStop: ControlHost {
        let loop: EventLoop
        init(loop: EventLoop) { self.loop = loop }
        var guestMux: GuestMux? { nil }
        func signalWorkload(_ signal: Int32, all: Bool) {}
        func requestStop(reason: String) {}
        func lifecycle(_ request: LifecycleRequest, reply: @escaping (Result<LifecycleDone, ErrorMessage>) -> Void) {
            reply(.success(LifecycleDone(action: request.action)))
            loop.stop()
        }
        func guestStats(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void) {}
        func syncGuestClock(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void) {}
    }

    @Test func anAnswerQueuedInTheLastTurnReachesItsClient() throws {
        let directory = try TemporaryDirectory(prefix: "/var/tmp/ctl-")
        defer { directory.remove() }
        let loop = try EventLoop()
        let host = AnswerThenStop(loop: loop)
        let server = try ControlServer(path: directory.file("control.sock"), loop: loop, host: host)
        let client = try FrameChannel.connect(unixPath: directory.file("control.sock"))
        defer { client.close() }
        try client.send(.hello(Hello(role: .client, agent: "control-test")))
        try client.send(.lifecycle(LifecycleRequest(action: .checkpoint)))
        loop.addTimer(after: .seconds(10)) { loop.stop() }  // a bound for the test only: the host stops it first
        try loop.run()
        server.close()
        let frames = try client.receive(until: { if case .lifecycleDone = $0.message { true } else { false } },
                                        deadline: Clock.deadline(after: .seconds(2)))
        #expect(frames.last?.message == .lifecycleDone(LifecycleDone(action: .checkpoint)))
        #expect(!Files.exists(directory.file("control.sock")))
    }
}
