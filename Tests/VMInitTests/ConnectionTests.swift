import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// PROTOCOL.md §7 on the namespace rung: vm-init enforces the host's hello, and serves several host
/// connections at once (§7.2), each session attached to at most one.
extension NamespaceTests {
    @Suite struct Connections {
        /// Connects and reads vm-init's hello, without answering it.
        func rawClient(_ guest: GuestUnderTest) throws -> FrameClient {
            let client = try guest.connect()  // waits until vm-init listens, then completes a handshake
            client.close()
            let fd = try UnixSocket.connect(path: guest.socketPath)
            let raw = FrameClient(fd: fd, window: ProtocolConstants.defaultWindow)
            guard case .hello = try raw.receiveRaw(timeout: 20).message else { throw HarnessError("no hello") }
            return raw
        }

        func errorCodes(_ client: FrameClient) -> [ErrorCode] {
            client.others.compactMap { if case .error(let e) = $0.message { e.code } else { nil } }
        }

        /// Pumps until the pong for `id`: everything sent before it has been handled.
        func sync(_ client: FrameClient, _ id: UInt64) throws {
            client.send(.ping(Ping(id: id)))
            try client.pump(until: { client.others.contains { if case .pong(let p) = $0.message { p.id == id } else { false } } })
        }

        func listed(_ client: FrameClient) throws -> [SessionInfo] {
            client.others = []
            client.send(.sessions(SessionList()))
            var list: [SessionInfo]?
            try client.pump(until: {
                list = client.others.lazy.compactMap { if case .sessions(let l) = $0.message { l.sessions ?? [] } else { nil } }.first
                return list != nil
            })
            return list ?? []
        }

        @Test func pingAndExecBeforeHelloAreRefusedAndNotServed() throws {
            try withGuest { guest in
                let client = try rawClient(guest)
                client.send(.ping(Ping(id: 1)))
                client.send(.exec(ExecRequest(session: 1, argv: ["true"])))
                try client.pump(until: { errorCodes(client).count == 2 })
                #expect(errorCodes(client) == [.invalidState, .invalidState])
                #expect(!client.others.contains { if case .pong = $0.message { true } else { false } })
                client.send(.hello(Hello(role: .host, agent: "vminit-tests")))
                try sync(client, 2)
                #expect(try listed(client).isEmpty, "the exec sent before hello was served")
                #expect(client.results[1]?.started == nil)
            }
        }

        @Test func secondHelloIsRefusedAndTheConnectionKeepsServing() throws {
            try withGuest { guest in
                let client = try guest.connect()
                client.send(.hello(Hello(role: .host)))
                try sync(client, 1)
                #expect(errorCodes(client) == [.invalidState])
                #expect(try client.run(ExecRequest(session: 1, argv: ["echo", "ok"])).stdoutText == "ok\n")
            }
        }

        @Test func wrongRoleAndUnsupportedVersionAreAnsweredThenClosed() throws {
            try withGuest { guest in
                for hello in [Hello(role: .client), Hello(role: .guest), Hello(version: ProtocolConstants.version + 1, role: .host)] {
                    let client = try rawClient(guest)
                    // (Nothing is sent after the hello: a write after vm-init closed would raise SIGPIPE here.)
                    client.send(.hello(hello))
                    let frame = try client.receiveRaw(timeout: 10)
                    guard case .error(let error) = frame.message else {
                        Issue.record("expected an error for \(hello), got \(frame.message)")
                        continue
                    }
                    #expect(error.code == (hello.version == ProtocolConstants.version ? .invalidState : .unsupportedVersion))
                    // Then end of stream.
                    #expect(throws: HarnessError.self) { try client.receiveRaw(timeout: 10) }
                }
            }
        }

        @Test func twoConnectionsAreServedAtOnceAndAttachMovesASession() throws {
            try withGuest { guest in
                let first = try guest.connect()
                first.exec(ExecRequest(session: 5, argv: ["sh", "-c", "echo one; sleep 0.5; echo two"]))
                try first.pump(until: { first.results[5]?.stdoutText == "one\n" })

                let second = try guest.connect()
                // The first connection is still served.
                try sync(first, 10)
                #expect(try first.run(ExecRequest(session: 6, argv: ["echo", "first"])).stdoutText == "first\n")
                #expect(try second.run(ExecRequest(session: 7, argv: ["echo", "second"])).stdoutText == "second\n")
                // `attached` is per asking connection (§4.15): true only where the output goes.
                #expect(try listed(second).first { $0.session == 5 }?.attached == false)
                #expect(try listed(first).first { $0.session == 5 }?.attached == true)

                // Session 5 moves to the second connection: its rest goes there, none to the first.
                second.results[5] = SessionResult()
                second.receiveWindows[5] = ReceiveWindow(window: second.window)
                second.send(.attach(SessionRef(session: 5)))
                try second.pump(until: { second.results[5]?.exit != nil })
                #expect(second.results[5]?.stdoutText == "two\n")
                #expect(second.results[5]?.exit?.status.code == 0)
                try sync(first, 11)
                #expect(first.results[5]?.stdoutText == "one\n")
                #expect(first.results[5]?.exit == nil)

                // Closing one connection leaves the other working, and its sessions detached.
                first.exec(ExecRequest(session: 8, argv: ["sleep", "1000"]))
                try first.pump(until: { first.results[8]?.started != nil })
                first.close()
                let after = try listed(second)
                #expect(after.first { $0.session == 8 }?.attached == false)
                second.send(.signal(SignalRequest(session: 8, signal: SIGKILL)))
                #expect(try second.run(ExecRequest(session: 9, argv: ["echo", "still"])).stdoutText == "still\n")
            }
        }

        /// A background grandchild writes after the drain deadline: that output is lost, and the exit says so.
        @Test func outputWrittenAfterTheDrainDeadlineIsReportedTruncated() throws {
            try withGuest(extraArguments: ["--drain-ms", "200"]) { guest in
                let client = try guest.connect()
                let r = try client.run(ExecRequest(session: 1, argv: ["sh", "-c", "echo now; (sleep 0.6; echo late) &"]))
                #expect(r.exit?.status.code == 0)
                #expect(r.stdoutText == "now\n")
                #expect(r.exit?.status.outputTruncated == true)
                // A child that ends before the deadline loses nothing.
                let clean = try client.run(ExecRequest(session: 2, argv: ["sh", "-c", "echo now; (sleep 0.05; echo soon) &"]))
                #expect(clean.stdoutText == "now\nsoon\n")
                #expect(clean.exit?.status.outputTruncated == false)
            }
        }
    }
}
