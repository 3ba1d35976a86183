import Foundation
import Glibc
import TestSupport
import Testing

/// Issue 8 end to end: two QEMU VMs, each with a TAP in its own network namespace created by fc-supervisor
/// inside a namespace topology this test builds (nothing outside these namespaces is touched):
///
///     VM a ─ tap ─ [ns a: forwarding] ─ veth ─┐
///                                             [ns out: fd00:99::1, no forwarding]
///     VM b ─ tap ─ [ns b: forwarding] ─ veth ─┘
///
/// Each VM's address comes from `fc-addr` (SQLite), is configured by vm-init from the `network` message, and
/// pings the outside host; VM a cannot reach VM b (ns out does not forward between the VMs' namespaces).
@Suite("QEMU networking end-to-end", .serialized)
struct NetworkE2ETests {
    private static let outsideHost = "fd00:99::1"

    private func ip(_ args: [String]) throws {
        let r = try runToEnd("/usr/sbin/ip", args, timeout: 20)
        guard r.exitCode == 0 else { throw HarnessError("ip \(args.joined(separator: " ")): \(r.stderr)") }
    }

    /// ns out plus, per VM, a namespace linked to it by a veth pair and routed.
    private func buildTopology(tag: String, vms: [(ns: String, index: Int, prefix: String)]) throws -> String {
        let out = "fce-out-\(tag)"
        try ip(["netns", "add", out])
        try ip(["-n", out, "link", "set", "lo", "up"])
        try ip(["-n", out, "addr", "add", Self.outsideHost + "/128", "dev", "lo"])
        for vm in vms {
            try ip(["netns", "add", vm.ns])
            let o = "o\(vm.index)", v = "v\(vm.index)"
            try ip(["link", "add", o, "netns", out, "type", "veth", "peer", "name", v, "netns", vm.ns])
            try ip(["-n", out, "addr", "add", "fd00:e\(vm.index)::1/64", "dev", o, "nodad"])
            try ip(["-n", vm.ns, "addr", "add", "fd00:e\(vm.index)::2/64", "dev", v, "nodad"])
            try ip(["-n", out, "link", "set", o, "up"])
            try ip(["-n", vm.ns, "link", "set", v, "up"])
            try ip(["-n", vm.ns, "link", "set", "lo", "up"])
            let sysctl = try runToEnd("/usr/sbin/ip", ["netns", "exec", vm.ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
            guard sysctl.exitCode == 0 else { throw HarnessError("sysctl forwarding: \(sysctl.stderr)") }
            try ip(["-n", vm.ns, "-6", "route", "add", "default", "via", "fd00:e\(vm.index)::1"])
            try ip(["-n", out, "-6", "route", "add", vm.prefix, "via", "fd00:e\(vm.index)::2"])
        }
        return out
    }

    @Test("two VMs in their own namespaces reach the outside host over IPv6, not each other")
    func twoIsolatedVMs() throws {
        let env = try E2EEnvironment.get()
        let fcAddr = try BuiltProduct.path("fc-addr")
        let tag = "\(getpid())"
        let nsA = "fce-a-\(tag)", nsB = "fce-b-\(tag)"
        let prefixA = "fd00:1:a::/64", prefixB = "fd00:1:b::/64"
        var out: String?
        defer {
            for ns in [out, nsA, nsB].compactMap({ $0 }) { _ = try? runToEnd("/usr/sbin/ip", ["netns", "del", ns]) }
        }
        out = try buildTopology(tag: tag, vms: [(nsA, 1, prefixA), (nsB, 2, prefixB)])
        guard let out else { return }

        // Addresses from the allocator (one database per prefix, as a node would keep).
        let dbDirectory = try TemporaryDirectory(prefix: "/tmp/fce-addr-")
        defer { dbDirectory.remove() }
        let db = dbDirectory.path
        func allocate(_ id: String, _ prefix: String) throws -> String {
            let r = try runToEnd(fcAddr, ["--db", db + "/\(id).db", "--prefix", prefix, "allocate", id])
            let parts = r.stdout.split(separator: " ")
            guard r.exitCode == 0, parts.count == 2 else { throw HarnessError("fc-addr: \(r.stderr)") }
            return parts[1].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let addrA = try allocate("neta", prefixA), addrB = try allocate("netb", prefixB)

        func args(_ id: String, ns: String, tap: String, prefix: String, address: String, command: String) -> [String] {
            let gateway = prefix.replacingOccurrences(of: "::/64", with: "::1")
            return ["run", "--vmm", "qemu", "--id", id, "--state-dir", env.stateRoot, "--kernel", env.kernel,
                    "--initrd", env.initrd, "--memory-mib", "256", "--vcpus", "1", "--boot-timeout", "90",
                    "--stop-timeout", "3", "--keep-state", "--netns", ns, "--tap", tap, "--create-tap",
                    "--tap-address", gateway + "/64", "--guest-ip", address + "/64", "--gateway", gateway,
                    "--", "sh", "-c", command]
        }
        // VM b stays up (pinging out first) while VM a tries to reach it.
        let b = try ChildUnderTest(env.supervisor, args("netb", ns: nsB, tap: "fctapb", prefix: prefixB, address: addrB,
            command: "ping6 -c 1 -W 10 \(Self.outsideHost) >/dev/null && echo B-OUT-OK; sleep 120"))
        defer { b.kill(SIGTERM); _ = b.wait(timeout: 30) }
        _ = Deadline(seconds: 150).poll(every: 0.1) { b.stdout.contains("B-OUT-OK") || !b.isRunning }
        #expect(b.stdout.contains("B-OUT-OK"), "VM b: \(b.stdout) \(b.stderr)")
        // Reachable from outside (where services the worker opens would be reached from).
        let fromOutside = try runToEnd("/usr/sbin/ip", ["netns", "exec", out, "/bin/busybox", "ping6", "-c", "1", "-W", "10", addrB])
        #expect(fromOutside.exitCode == 0, "outside → VM b: \(fromOutside.stdout) \(fromOutside.stderr)")

        let a = try ChildUnderTest(env.supervisor, args("neta", ns: nsA, tap: "fctapa", prefix: prefixA, address: addrA,
            command: "ip -6 addr show; ping6 -c 1 -W 10 \(Self.outsideHost) >/dev/null && echo A-OUT-OK; "
                + "if ping6 -c 2 -W 3 \(addrB) >/dev/null; then echo A-REACHED-B; else echo A-CANNOT-REACH-B; fi"))
        let statusA = a.wait(timeout: 180)
        #expect(statusA == .exited(0), "VM a stderr: \(a.stderr)")
        #expect(a.stdout.contains("inet6 \(addrA)/64"), "ip -6 addr in VM a: \(a.stdout)")
        #expect(a.stdout.contains("A-OUT-OK"))
        #expect(a.stdout.contains("A-CANNOT-REACH-B"))
        #expect(!a.stdout.contains("A-REACHED-B"))

        // VM a's TAP is gone with its supervisor; VM b's namespace still has its TAP until b stops.
        #expect(try runToEnd("/usr/sbin/ip", ["-n", nsA, "link", "show", "dev", "fctapa"]).exitCode != 0)
        #expect(try runToEnd("/usr/sbin/ip", ["-n", nsB, "link", "show", "dev", "fctapb"]).exitCode == 0)
        b.kill(SIGTERM)
        _ = b.wait(timeout: 30)
        #expect(try runToEnd("/usr/sbin/ip", ["-n", nsB, "link", "show", "dev", "fctapb"]).exitCode != 0)
    }
}
