import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

@testable import VMInit

/// Issue 7 (3): a hostile host on the namespace rung. Every absurd request gets an error (or a start_failed) and
/// vm-init keeps serving the same connection.
extension NamespaceTests {
    @Suite struct HostileHost {
        func errors(_ client: FrameClient) -> [ErrorMessage] {
            client.others.compactMap { if case .error(let e) = $0.message { e } else { nil } }
        }

        /// Sends a ping and pumps until its pong: everything sent before has been handled.
        func sync(_ client: FrameClient, _ id: UInt64) throws {
            client.send(.ping(Ping(id: id)))
            try client.pump(until: { client.others.contains { if case .pong(let p) = $0.message { p.id == id } else { false } } })
        }

        func raw(_ json: String) -> [UInt8] { NamespaceTests.Robustness.rawFrame(header: Array(json.utf8)) }

        @Test func absurdExecRequestsAreRefusedAndVMInitKeepsServing() throws {
            try withGuest { guest in
                let client = try guest.connect()
                // argv of 100k entries: a 500 KB header, over the 64 KiB limit.
                client.send(.exec(ExecRequest(session: 1, argv: ["/bin/true"] + Array(repeating: "argument", count: 100_000))))
                try sync(client, 1)
                #expect(errors(client).contains { $0.code == .frameTooLarge })
                #expect(client.results[1] == nil || client.results[1]?.started == nil)

                // NUL inside env and argv: refused before fork.
                let nulEnv = try client.run(ExecRequest(session: 2, argv: ["/bin/true"], env: ["A=x\u{0}y"]))
                #expect(nulEnv.startFailed?.errno == EINVAL, "\(nulEnv)")
                let nulArg = try client.run(ExecRequest(session: 3, argv: ["/bin/echo", "a\u{0}b"]))
                #expect(nulArg.startFailed?.errno == EINVAL, "\(nulArg)")

                // uid/gid 2^32−1 is (uid_t)-1, "leave unchanged" to setresuid: it must not run as root.
                let maxUID = try client.run(ExecRequest(session: 4, argv: ["/usr/bin/id", "-u"], uid: UInt32.max))
                #expect(maxUID.started == nil && maxUID.startFailed != nil, "uid 4294967295 ran: \(maxUID.stdoutText)")
                let maxGID = try client.run(ExecRequest(session: 5, argv: ["/usr/bin/id", "-g"], uid: 65534, gid: UInt32.max))
                #expect(maxGID.started == nil && maxGID.startFailed != nil, "gid 4294967295 ran: \(maxGID.stdoutText)")

                // Absurd rlimits, unknown names and capabilities.
                let huge = try client.run(ExecRequest(session: 6, argv: ["/bin/true"],
                                                      rlimits: [ResourceLimit(resource: "nofile", soft: .max, hard: .max)]))
                #expect(huge.startFailed?.stage == "rlimits", "\(huge)")
                let inverted = try client.run(ExecRequest(session: 7, argv: ["/bin/true"],
                                                          rlimits: [ResourceLimit(resource: "nofile", soft: 100, hard: 10)]))
                #expect(inverted.startFailed?.stage == "rlimits", "\(inverted)")
                let unknownLimit = try client.run(ExecRequest(session: 8, argv: ["/bin/true"],
                                                              rlimits: [ResourceLimit(resource: "warp", soft: 1, hard: 1)]))
                #expect(unknownLimit.startFailed?.stage == "validate")
                let cap = try client.run(ExecRequest(session: 9, argv: ["/bin/true"], capabilities: ["CAP_WARP_DRIVE"]))
                #expect(cap.startFailed?.stage == "validate")
                let empty = try client.run(ExecRequest(session: 10, argv: [""]))
                #expect(empty.startFailed?.errno == EINVAL)

                // Negative and out-of-range numbers never decode.
                let before = errors(client).count
                client.sendRaw(raw(#"{"type":"exec","session":11,"argv":["/bin/true"],"tty":{"rows":-1,"cols":80}}"#))
                client.sendRaw(raw(#"{"type":"exec","session":12,"argv":["/bin/true"],"timeout_ms":-5}"#))
                client.sendRaw(raw(#"{"type":"exec","session":-1,"argv":["/bin/true"]}"#))
                client.sendRaw(raw(#"{"type":"window","session":1,"bytes":-1}"#))
                client.sendRaw(raw(#"{"type":"window","session":1,"bytes":4294967296}"#))
                client.sendRaw(raw(#"{"type":"exec","session":13,"argv":["/bin/true"],"uid":-1}"#))
                try sync(client, 2)
                let decodeErrors = errors(client).dropFirst(before)
                #expect(decodeErrors.count == 6 && decodeErrors.allSatisfy { $0.code == .invalidMessage }, "\(Array(decodeErrors))")

                let ok = try client.run(ExecRequest(session: 20, argv: ["echo", "still serving"]))
                #expect(ok.stdoutText == "still serving\n")
            }
        }

        @Test func duplicateSessionsHugeWindowsAndStraySignals() throws {
            try withGuest { guest in
                let client = try guest.connect()
                client.exec(ExecRequest(session: 1, argv: ["sh", "-c", "read line; echo got $line"], stdin: true))
                try client.pump(until: { client.results[1]?.started != nil })
                // Same id again: refused, the running session is untouched.
                client.send(.exec(ExecRequest(session: 1, argv: ["/bin/false"])))
                // Window overflow: UInt32.max twice on top of the initial credit.
                client.send(.window(WindowUpdate(session: 1, bytes: .max)))
                client.send(.window(WindowUpdate(session: 1, bytes: .max)))
                // Signals to unknown sessions and out of range.
                client.send(.signal(SignalRequest(session: 999, signal: SIGKILL)))
                client.send(.signal(SignalRequest(session: 1, signal: 0)))
                client.send(.signal(SignalRequest(session: 1, signal: 65)))
                client.send(.signal(SignalRequest(session: 1, signal: -9)))
                client.send(.resize(ResizeRequest(session: 998, rows: 0, cols: 0)))
                client.send(.exitAck(SessionRef(session: 1)))  // not exited yet
                client.send(.stdinClose(SessionRef(session: 997)))
                try sync(client, 3)
                let codes = errors(client).map(\.code)
                #expect(codes.contains(.sessionExists))
                #expect(codes.filter { $0 == .unknownSession }.count >= 3, "\(codes)")
                #expect(codes.filter { $0 == .invalidMessage }.count >= 3, "\(codes)")
                #expect(codes.contains(.invalidState))
                // The session still works: stdin in, output out, exit 0.
                try client.sendStdin(1, Array("hello\n".utf8))
                client.send(.stdinClose(SessionRef(session: 1)))
                try client.pump(until: { client.results[1]?.done == true })
                #expect(client.results[1]?.stdoutText == "got hello\n")
                #expect(client.results[1]?.exit?.status.code == 0)
            }
        }
    }
}
