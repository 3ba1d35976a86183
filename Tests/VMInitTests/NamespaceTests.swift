import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// Rung 2 of the test ladder: vm-init as a real PID 1 in fresh PID + mount + UTS namespaces, driven over a
/// Unix socket. Serialized: every test boots its own namespace and the machine has two cores.
@Suite(.serialized)
struct NamespaceTests {}

extension NamespaceTests {
    @Suite struct Exec {
        @Test func echoExitCodesAndSignals() throws {
            try withGuest { guest in
                let client = try guest.connect()
                #expect(client.guestHello?.role == .guest)
                #expect(client.guestHello?.bootTimings?["listening"] != nil)
                // `start` (the first C constructor, before the Swift runtime starts) is a real time and precedes `main`.
                let timings = client.guestHello?.bootTimings ?? [:]
                #expect(timings["start"].map { $0 > 0 && $0 <= timings["main"] ?? 0 } == true, "\(timings)")

                let echo = try client.run(ExecRequest(session: 1, argv: ["echo", "hi"]))
                #expect(echo.started != nil)
                #expect(echo.stdoutText == "hi\n")
                #expect(echo.exit?.status == ExitStatus(code: 0))

                let seven = try client.run(ExecRequest(session: 2, argv: ["sh", "-c", "exit 7"]))
                #expect(seven.exit?.status.code == 7)
                #expect(seven.exit?.status.shellStatus == 7)

                let killed = try client.run(ExecRequest(session: 3, argv: ["sh", "-c", "kill -9 $$"]))
                #expect(killed.exit?.status.signal == 9)
                #expect(killed.exit?.status.code == nil)
                #expect(killed.exit?.status.shellStatus == 137)

                let stderr = try client.run(ExecRequest(session: 4, argv: ["sh", "-c", "echo out; echo err >&2"]))
                #expect(stderr.stdoutText == "out\n")
                #expect(String(decoding: stderr.stderr, as: UTF8.self) == "err\n")
            }
        }

        @Test func startFailures() throws {
            try withGuest { guest in
                let client = try guest.connect()
                // Missing binary: ENOENT at the exec stage, fast. Best of three, so one scheduling hiccup on a
                // loaded machine does not decide the bound.
                var best = Double.infinity
                for i: UInt32 in 0..<3 {
                    let t0 = Deadline.now()
                    let r = try client.run(ExecRequest(session: 10 + i, argv: ["/nonexistent/binary"]))
                    best = min(best, Deadline.now() - t0)
                    #expect(r.startFailed?.errno == ENOENT)
                    #expect(r.startFailed?.stage == "exec")
                    #expect(r.started == nil)
                }
                #expect(best < 0.1, "start_failed took \(best) s")

                let notInPath = try client.run(ExecRequest(session: 20, argv: ["no-such-command-xyz"]))
                #expect(notInPath.startFailed?.errno == ENOENT)

                let cwd = try client.run(ExecRequest(session: 21, argv: ["true"], cwd: "/does/not/exist"))
                #expect(cwd.startFailed?.stage == "cwd")
                #expect(cwd.startFailed?.errno == ENOENT)

                let user = try client.run(ExecRequest(session: 22, argv: ["true"], user: "no-such-user-xyz"))
                #expect(user.startFailed?.stage == "user")

                let empty = try client.run(ExecRequest(session: 23, argv: []))
                #expect(empty.startFailed?.stage == "validate")

                // Numeric user: runs with that uid/gid.
                let nobody = try client.run(ExecRequest(session: 24, argv: ["id", "-u"], user: "65534:65534"))
                #expect(nobody.stdoutText == "65534\n")

                // Still serving afterwards.
                let ok = try client.run(ExecRequest(session: 25, argv: ["true"]))
                #expect(ok.exit?.status.code == 0)
            }
        }

        /// The workload duties follow the hello, before vm-init reads a frame: the first request already finds
        /// every mount, `lo` up (a fresh network namespace, where it starts down) and its session cgroup.
        @Test func isPID1WithRealMounts() throws {
            let cgroup = try TestCgroup()
            defer { cgroup.remove() }
            try withGuest(network: true, cgroup: cgroup.path) { guest in
                let client = try guest.connect()
                let first = try client.run(ExecRequest(session: 1, argv: ["cat", "/proc/self/mountinfo", "/sys/class/net/lo/flags",
                                                                         "/proc/self/cgroup"]))
                let text = first.stdoutText
                #expect(text.contains(" - devpts "))
                #expect(text.contains(" /run ") && text.contains(" /tmp ") && text.contains(" /dev/shm "))
                #expect(text.contains(" - cgroup2 "))
                let flags = text.split(separator: "\n").first { $0.hasPrefix("0x") }.flatMap { UInt32($0.dropFirst(2), radix: 16) }
                #expect(flags.map { $0 & 1 == 1 } == true, "lo's flags (IFF_UP is 0x1): \(text.suffix(200))")
                #expect(text.contains("0::\(cgroup.hierarchyPath)/fc-sessions/1\n"), "the first session's cgroup: \(text.suffix(200))")
                let comm = try client.run(ExecRequest(session: 2, argv: ["cat", "/proc/1/comm"]))
                #expect(comm.stdoutText == "vm-init\n")
            }
        }

        @Test func manyParallelSessions() throws {
            try withGuest { guest in
                let client = try guest.connect()
                let count: UInt32 = 200
                for i in 0..<count {
                    client.exec(ExecRequest(session: 100 + i, argv: ["sh", "-c", "exit \(i % 256)"]))
                }
                try client.pump(until: { (0..<count).allSatisfy { client.results[100 + $0]?.done == true } }, timeout: 60)
                for i in 0..<count {
                    #expect(client.results[100 + i]?.exit?.status.code == Int32(i % 256), "session \(100 + i)")
                }
            }
        }

        @Test func orphansAreReaped() throws {
            try withGuest { guest in
                let client = try guest.connect()
                // 1,000 double-forked children whose parents exit at once: all are re-parented to PID 1.
                let spawn = try client.run(ExecRequest(session: 1, argv: ["sh", "-c",
                    "i=0; while [ $i -lt 1000 ]; do (sleep 0.01 &); i=$((i+1)); done"]), timeout: 120)
                #expect(spawn.exit?.status.code == 0)
                var zombies = -1
                var session: UInt32 = 2
                _ = try Deadline(seconds: 20).poll(every: 0.1) {
                    let r = try client.run(ExecRequest(session: session, argv: ["sh", "-c",
                        "n=0; for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null || continue; case \"${l##*) }\" in Z*) n=$((n+1));; esac; done; echo $n"]))
                    session += 1
                    zombies = Int(r.stdoutText.split(separator: "\n").first ?? "") ?? -1
                    return zombies == 0
                }
                #expect(zombies == 0)
            }
        }
    }
}
