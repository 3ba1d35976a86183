import Foundation
import Glibc
import TestSupport
import Testing

/// Issue 8 on the simulator rung: `fc-supervisor run --netns NAME --tap T --create-tap` creates the namespace and
/// the TAP in it, runs the (simulated) Firecracker inside the namespace, sends a spec-valid
/// `network-interfaces` request, and removes everything after a normal stop and after a SIGKILLed supervisor's
/// restart. Only namespaces these tests create are touched.
@Suite(.serialized) struct NetworkSimulatorTests {
    private func ipStatus(_ args: [String]) throws -> (status: Int32, stdout: String) {
        let r = try runToEnd("/usr/sbin/ip", args)
        return (r.status, r.stdout)
    }

    private func netnsInode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    @Test func tapInOwnNamespaceIsRequestedAndRemovedAfterStopAndAfterSIGKILL() throws {
        let h = try SimulatorHarness()
        let ns = "fcsn-\(getpid())"
        defer {
            _ = try? ipStatus(["netns", "del", ns])
            h.cleanup()
        }
        let extra = ["--netns", ns, "--tap", "fcstap0", "--create-tap", "--tap-address", "fd00:5::1/64"]
        // 1. Normal run: the TAP exists while the VM runs, in the namespace, and the VMM runs there too.
        let p = try ChildUnderTest(h.supervisor, h.runArguments(id: "net", extra: extra, command: ["sh", "-c", "echo ready; sleep 1000"]),
                                   environment: h.environment())
        #expect(p.waitForOutput("ready\n"))
        let link = try ipStatus(["-n", ns, "-d", "link", "show", "dev", "fcstap0"])
        #expect(link.status == 0 && link.stdout.contains("tun type tap"), "\(link.stdout)")
        #expect(try ipStatus(["link", "show", "dev", "fcstap0"]).status != 0, "TAP leaked into the host namespace")
        let vmmPid = try String(contentsOfFile: "\(h.stateRoot)/net/vmm.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(netnsInode("/proc/\(vmmPid)/ns/net") == netnsInode("/run/netns/\(ns)"), "the VMM is not in \(ns)")
        let log = try String(contentsOfFile: h.requestLog, encoding: .utf8)
        let nets = log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { ($0["path"] as? String)?.hasPrefix("/network-interfaces/") == true }
        #expect(nets.count == 1, "\(log)")
        if let put = nets.first {
            #expect((200..<300).contains(put["status"] as? Int ?? 0), "rejected: \(put)")
            #expect(put["path"] as? String == "/network-interfaces/eth0")
        }
        p.kill(SIGTERM)
        #expect(p.wait().shellStatus != ChildUnderTest.lostStatus)
        #expect(try ipStatus(["-n", ns, "link", "show"]).status != 0, "namespace survived the stop")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(ns)"))

        // 2. SIGKILLed supervisor: TAP and namespace stay behind; the next run for the id removes them at its end.
        let q = try ChildUnderTest(h.supervisor, h.runArguments(id: "net", extra: extra, command: ["sh", "-c", "echo ready; sleep 1000"]),
                                   environment: h.environment())
        #expect(q.waitForOutput("ready\n"))
        q.kill(SIGKILL)
        q.wait()
        _ = Deadline(seconds: 10).poll(every: 0.05) { processesMatching(h.stateRoot).isEmpty }
        #expect(try ipStatus(["-n", ns, "link", "show", "dev", "fcstap0"]).status == 0, "leftover expected after SIGKILL")
        let r = try runToEnd(h.supervisor, h.runArguments(id: "net", extra: extra, command: ["echo", "again"]),
                             environment: h.environment())
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "again\n")
        #expect(r.stderr.contains("stale TAP fcstap0"))
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(ns)"), "namespace left after the restart's stop")
    }
}
