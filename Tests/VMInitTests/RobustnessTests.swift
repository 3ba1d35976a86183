import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

extension NamespaceTests {
    @Suite struct Robustness {
        static func rawFrame(header: [UInt8], payload: [UInt8] = []) -> [UInt8] {
            var out: [UInt8] = []
            for v in [UInt32(header.count), UInt32(payload.count)] {
                out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
            }
            return out + header + payload
        }

        func errors(_ client: FrameClient) -> [ErrorMessage] {
            client.others.compactMap { if case .error(let e) = $0.message { e } else { nil } }
        }

        @Test func malformedAndOversizedFramesGetErrorsAndVMInitKeepsServing() throws {
            try withGuest { guest in
                let client = try guest.connect()
                client.sendRaw(Self.rawFrame(header: Array("not json".utf8)))
                client.sendRaw(Self.rawFrame(header: Array(#"{"type":"launch_missiles"}"#.utf8)))
                client.sendRaw(Self.rawFrame(header: Array(#"{"type":"exec","session":"x"}"#.utf8)))
                client.sendRaw(Self.rawFrame(header: Array(#"{"type":"ping","id":1}"#.utf8), payload: [1, 2, 3]))
                client.sendRaw([0, 0, 0, 0, 0, 0, 0, 0])  // empty header
                // Declared payload over the 1 MiB limit: reported, and its bytes skipped as they arrive.
                client.sendRaw(Self.rawFrame(header: Array(#"{"type":"stdin","session":5}"#.utf8),
                                             payload: [UInt8](repeating: 0x41, count: 2 << 20)))
                client.send(.ping(Ping(id: 42)))
                try client.pump(until: { client.others.contains { if case .pong(let p) = $0.message { p.id == 42 } else { false } } })
                let codes = errors(client).map(\.code)
                #expect(codes.contains(.malformedHeader))
                #expect(codes.contains(.unknownMessage))
                #expect(codes.contains(.invalidMessage))
                #expect(codes.contains(.frameTooLarge))
                client.send(.stdin(SessionRef(session: 999)), payload: [1])
                let r = try client.run(ExecRequest(session: 1, argv: ["echo", "still here"]))
                #expect(r.stdoutText == "still here\n")
                #expect(errors(client).contains { $0.code == .unknownSession && $0.session == 999 })

                // Random garbage, then hang up mid-frame; a fresh connection works.
                var state: UInt64 = 0x9E37_79B9_7F4A_7C15
                var garbage = [UInt8]()
                for _ in 0..<200_000 {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    garbage.append(UInt8(truncatingIfNeeded: state))
                }
                client.sendRaw(garbage)
                client.close()
                let fresh = try guest.connect()
                let again = try fresh.run(ExecRequest(session: 2, argv: ["echo", "ok"]))
                #expect(again.stdoutText == "ok\n")
            }
        }

        @Test func reconnectListsAndReattachesRetainedExit() throws {
            try withGuest { guest in
                let first = try guest.connect()
                first.exec(ExecRequest(session: 7, argv: ["sh", "-c", "echo before; read x < /dev/null; sleep 1; echo after; exit 3"]))
                try first.pump(until: { first.results[7]?.stdoutText.contains("before") == true })
                first.close()

                let second = try guest.connect()
                second.send(.sessions(SessionList()))
                var listed: [SessionInfo] = []
                try second.pump(until: {
                    if let f = second.others.last, case .sessions(let l) = f.message { listed = l.sessions ?? []; return true }
                    return false
                })
                #expect(listed.contains { $0.session == 7 && $0.attached == false })
                second.results[7] = SessionResult()
                second.receiveWindows[7] = ReceiveWindow(window: second.window)
                second.send(.attach(SessionRef(session: 7)))
                try second.pump(until: { second.results[7]?.exit != nil })
                #expect(second.results[7]?.stdoutText.contains("after") == true)
                #expect(second.results[7]?.exit?.status.code == 3)

                // Retained until acknowledged, then gone.
                second.close()
                let third = try guest.connect()
                third.send(.sessions(SessionList()))
                try third.pump(until: { third.others.contains { if case .sessions = $0.message { true } else { false } } })
                let retained: [SessionInfo] = third.others.compactMap { f -> [SessionInfo]? in if case .sessions(let l) = f.message { l.sessions ?? [] } else { nil } }.first ?? []
                #expect(retained.first { $0.session == 7 }?.exit?.code == 3)
                third.send(.exitAck(SessionRef(session: 7)))
                third.others = []
                third.send(.sessions(SessionList()))
                try third.pump(until: { third.others.contains { if case .sessions = $0.message { true } else { false } } })
                let after: [SessionInfo] = third.others.compactMap { f -> [SessionInfo]? in if case .sessions(let l) = f.message { l.sessions ?? [] } else { nil } }.first ?? []
                #expect(after.isEmpty)
            }
        }

        @Test func shutdownEndsTheNamespace() throws {
            try withGuest { guest in
                let client = try guest.connect()
                client.exec(ExecRequest(session: 1, argv: ["sleep", "1000"]))
                try client.pump(until: { client.results[1]?.started != nil })
                client.send(.shutdown(ShutdownRequest(mode: "reboot", graceMs: 200)))
                try client.pump(until: { client.results[1]?.exit != nil })
                #expect(client.results[1]?.exit?.status.signal == SIGTERM)
                client.send(.exitAck(SessionRef(session: 1)))
                // reboot(RB_AUTOBOOT) by a PID namespace's init ends the namespace (SIGHUP).
                let end = guest.waitForExit(timeout: 20)
                #expect(end != nil)
            }
        }
    }
}
