import Foundation
import Glibc
import TestSupport
import Testing

/// `fc-supervisor run` against the Firecracker simulator with a real vm-init guest.
@Suite(.serialized) struct RunCommandTests {
    @Test func printsBothStreamsAndExitsWithTheWorkloadsCode() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "run-3", command: ["sh", "-c", "echo out; echo err >&2; exit 3"]),
                             environment: h.environment())
        #expect(r.status == 3, "stderr: \(r.stderr)")
        #expect(r.stdout == "out\n")
        #expect(r.stderr.contains("err\n"))
        // Everything the supervisor made is gone.
        #expect(!FileManager.default.fileExists(atPath: h.stateRoot + "/run-3"))
        #expect(processesMatching(h.stateRoot).isEmpty)
    }

    @Test func everyAPIRequestIsAcceptedBySpecRules() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "api", command: ["true"]), environment: h.environment())
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let log = try String(contentsOfFile: h.requestLog, encoding: .utf8)
        let requests = log.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let paths = requests.compactMap { $0["path"] as? String }
        for expected in ["/logger", "/machine-config", "/boot-source", "/vsock", "/entropy", "/actions"] {
            #expect(paths.contains(expected), "missing \(expected) in \(paths)")
        }
        for request in requests {
            let status = request["status"] as? Int ?? 0
            #expect((200..<300).contains(status), "rejected: \(request)")
        }
    }

    @Test func signalDeathIsReportedAs128PlusN() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "kill9", command: ["sh", "-c", "kill -9 $$"]),
                             environment: h.environment())
        #expect(r.status == 137, "stderr: \(r.stderr)")
    }

    @Test func missingBinaryIs127() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "enoent", command: ["/no/such/binary"]),
                             environment: h.environment())
        #expect(r.status == 127, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("No such file") || r.stderr.contains("ENOENT") || r.stderr.contains("errno 2"))
    }

    @Test func stdinIsForwardedWithEOF() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let input = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "stdin", command: ["sh", "-c", "cat | wc -c"]),
                             environment: h.environment(), input: input)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "200000")
    }

    @Test func sigtermToTheSupervisorReachesTheWorkload() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let script = "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done"
        let p = try ChildUnderTest(h.supervisor, h.runArguments(id: "term", command: ["sh", "-c", script]),
                                   environment: h.environment())
        #expect(p.waitForOutput("ready\n"))
        p.kill(SIGTERM)
        let status = p.wait(timeout: 30).shellStatus
        #expect(status == 42, "stderr: \(p.stderr)")
        #expect(p.stdout.contains("got-term"))
    }

    @Test func bootFailsCleanlyWhenTheGuestNeverListens() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let started = Deadline.now()
        let r = try runToEnd(h.supervisor, h.runArguments(id: "never", bootTimeout: 2, command: ["true"]),
                             environment: h.environment(["FCSIM_GUEST_NEVER": "1"]))
        #expect(r.status == 121, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("guest"))
        #expect(Deadline.now() - started < 20)
        #expect(!FileManager.default.fileExists(atPath: h.stateRoot + "/never"))
        #expect(processesMatching(h.stateRoot).isEmpty)
    }

    @Test(arguments: [0, 1000, 5000])
    func attachSucceedsWhenTheGuestListensLate(delayMs: Int) throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, h.runArguments(id: "late\(delayMs)", command: ["echo", "up"]),
                             environment: h.environment(["FCSIM_GUEST_DELAY_MS": String(delayMs)]))
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "up\n")
    }

    @Test func staleSocketsFromACrashedRunAreCleanedUp() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let dir = h.stateRoot + "/stale"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Leave real socket files behind, as a crashed Firecracker would (it never unlinks them).
        for name in ["api.sock", "vsock.sock", "control.sock"] {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array((dir + "/" + name).utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in path.enumerated() { raw[i] = b }
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            close(fd)
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/api.sock"))
        let r = try runToEnd(h.supervisor, h.runArguments(id: "stale", command: ["echo", "fresh"]), environment: h.environment())
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "fresh\n")
    }

    @Test func sigkilledSupervisorLeavesNoVMMAndTheIdIsReusable() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let p = try ChildUnderTest(h.supervisor, h.runArguments(id: "crash", command: ["sh", "-c", "echo ready; sleep 1000"]),
                                   environment: h.environment())
        #expect(p.waitForOutput("ready\n"))
        let vmmsBefore = processesMatching(h.stateRoot)
        #expect(vmmsBefore.count >= 2, "the supervisor and the simulator should be running")
        p.kill(SIGKILL)
        p.wait()
        // The VMM dies with its parent (PR_SET_PDEATHSIG); its guest namespace with it.
        _ = Deadline(seconds: 10).poll(every: 0.05) { processesMatching(h.stateRoot).isEmpty }
        #expect(processesMatching(h.stateRoot).isEmpty)
        let r = try runToEnd(h.supervisor, h.runArguments(id: "crash", command: ["echo", "again"]), environment: h.environment())
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "again\n")
    }

    @Test func badArgumentsGiveAUsageError() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let r = try runToEnd(h.supervisor, ["run", "--id", "bad_id!", "--kernel", h.kernel, "--state-dir", h.stateRoot, "--", "true"],
                             environment: h.environment())
        #expect(r.status == 64)
        #expect(r.stderr.contains("--id"))
        let usage = try runToEnd(h.supervisor, ["run", "--no-such-flag"], environment: h.environment())
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("Usage") || usage.stderr.contains("USAGE"))
    }
}
