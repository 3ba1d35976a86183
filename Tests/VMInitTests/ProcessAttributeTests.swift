import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// The exec attributes applied between fork and exec, checked from inside the started process.
extension NamespaceTests {
    @Suite struct ProcessAttributes {
        /// Runs `script` with the given request fields and returns its stdout (exit 0 expected).
        private func output(_ client: FrameClient, session: SessionID, _ script: String,
                            configure: (inout ExecRequest) -> Void = { _ in }) throws -> String {
            var request = ExecRequest(session: session, argv: ["sh", "-c", script])
            configure(&request)
            let result = try client.run(request)
            #expect(result.startFailed == nil, "\(String(describing: result.startFailed))")
            #expect(result.exit?.status.code == 0, "\(script): \(String(decoding: result.stderr, as: UTF8.self))")
            return result.stdoutText.trimmingSuffix("\n")
        }

        @Test func userGroupsUmaskAndEnvironment() throws {
            try withGuest { guest in
                let client = try guest.connect()
                let ids = try output(client, session: 1, "echo $(id -u) $(id -g) $(id -G)") {
                    $0.uid = 1234; $0.gid = 2345; $0.groups = [3456, 4567]
                }
                #expect(ids == "1234 2345 2345 3456 4567" || ids == "1234 2345 3456 4567", "\(ids)")
                #expect(try output(client, session: 2, "umask") { $0.umask = 0o027 } == "0027")
                #expect(try output(client, session: 3, "echo \"$A|$B\"; pwd") {
                    $0.env = ["A=1", "B=two words", "PATH=/usr/bin:/bin"]; $0.cwd = "/proc"
                } == "1|two words\n/proc")
                // A passwd name resolves to its uid, gid and home.
                #expect(try output(client, session: 4, "id -un") { $0.user = "nobody" } == "nobody")
            }
        }

        @Test func resourceLimitsAndNoNewPrivileges() throws {
            try withGuest { guest in
                let client = try guest.connect()
                #expect(try output(client, session: 1, "ulimit -n") {
                    $0.rlimits = [ResourceLimit(resource: "nofile", soft: 123, hard: 456)]
                } == "123")
                #expect(try output(client, session: 2, "grep NoNewPrivs /proc/self/status") { $0.noNewPrivs = true }
                    .hasSuffix("1"))
                #expect(try output(client, session: 3, "grep NoNewPrivs /proc/self/status").hasSuffix("0"))
                // An unknown limit name is refused before anything runs.
                var bad = ExecRequest(session: 4, argv: ["true"])
                bad.rlimits = [ResourceLimit(resource: "no-such-limit", soft: 1, hard: 1)]
                let refused = try client.run(bad)
                #expect(refused.startFailed != nil)
                #expect(refused.exit == nil)
            }
        }

        @Test func capabilitiesAreReducedToTheKeptSet() throws {
            try withGuest { guest in
                let client = try guest.connect()
                // CAP_NET_BIND_SERVICE is bit 10: 0x400.
                let kept = try output(client, session: 1, "grep -E '^Cap(Eff|Bnd)' /proc/self/status") {
                    $0.capabilities = ["CAP_NET_BIND_SERVICE"]
                }
                #expect(kept.contains("CapEff:\t0000000000000400"), "\(kept)")
                #expect(kept.contains("CapBnd:\t0000000000000400"), "\(kept)")
                let none = try output(client, session: 2, "grep -E '^CapEff' /proc/self/status") { $0.capabilities = [] }
                #expect(none == "CapEff:\t0000000000000000")
            }
        }

        @Test func timeoutKillsTheProcessGroup() throws {
            try withGuest { guest in
                let client = try guest.connect()
                let t0 = Deadline.now()
                var request = ExecRequest(session: 1, argv: ["sh", "-c", "sleep 30 & sleep 30"])
                request.timeoutMs = 300
                let result = try client.run(request)
                #expect(result.exit?.status.signal == SIGKILL)
                #expect(Deadline.now() - t0 < 10)
            }
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
