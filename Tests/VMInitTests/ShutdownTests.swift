import Glibc
import TestSupport
import Testing
import VsockProtocol

extension NamespaceTests {
    /// PROTOCOL.md §4.19 with several connections (§7.2): the wait for exit acks lasts while ANY host connection
    /// is open, and an `exit_ack` (or `attach`) is served from any connection.
    @Suite struct Shutdown {
        @Test func exitAckWaitLastsWhileAnyConnectionIsOpen() throws {
            try withGuest { guest in
                let first = try guest.connect()
                let second = try guest.connect()
                first.exec(ExecRequest(session: 1, argv: ["sleep", "1000"]))
                try first.pump(until: { first.results[1]?.started != nil })
                second.send(.shutdown(ShutdownRequest(mode: "reboot", graceMs: 200)))
                try first.pump(until: { first.results[1]?.exit != nil })
                #expect(first.results[1]?.exit?.status.signal == SIGTERM)

                // The connection that got the exit goes away without acknowledging it. The other one is still
                // open, so vm-init keeps waiting (and serving): the retained exit moves there on `attach`.
                first.close()
                // Several of vm-init's 20 ms shutdown polls, well inside the 2 s ack budget: had it counted only
                // the closed connection, it would power off now.
                Deadline.sleep(0.3)
                #expect(guest.waitForExit(timeout: 0) == nil, "vm-init stopped waiting when one connection closed")
                second.results[1] = SessionResult()
                second.receiveWindows[1] = ReceiveWindow(window: second.window)
                second.send(.attach(SessionRef(session: 1)))
                try second.pump(until: { second.results[1]?.exit != nil })
                #expect(second.results[1]?.exit?.status.signal == SIGTERM)
                #expect(guest.waitForExit(timeout: 0) == nil, "vm-init ended before the exit was acknowledged")

                second.send(.exitAck(SessionRef(session: 1)))
                #expect(guest.waitForExit(timeout: 20) != nil)
            }
        }
    }
}
