import Foundation
import Glibc
import TestSupport
import Testing
import VsockProtocol

@testable import Supervisor
@testable import VMM

/// Issue 8 host side: TAP and namespace lifecycle (real devices, only inside namespaces these tests create),
/// the deterministic MAC, the QEMU netdev arguments and the guest `network` message.
@Suite(.serialized) struct HostNetworkTests {
    /// `ip ARGS`: its exit code (-1 when it could not run or a signal ended it) and stdout + stderr.
    private func ip(_ args: [String]) -> (status: Int32, output: String) {
        do {
            let p = try ChildUnderTest(HostNetwork.ipPath, args, mergeStandardError: true)
            return (p.wait(timeout: 60).exitCode ?? -1, p.stdout)
        } catch { return (-1, "\(error)") }
    }

    @Test func macIsDeterministicLocallyAdministeredUnicast() throws {
        let a = deterministicMAC(forVM: "vm-a")
        #expect(a == deterministicMAC(forVM: "vm-a"))
        #expect(a != deterministicMAC(forVM: "vm-b"))
        #expect(VMConfig.isValidMAC(a))
        let first = try #require(UInt8(a.prefix(2), radix: 16))
        #expect(first & 0x01 == 0, "unicast")
        #expect(first & 0x02 == 0x02, "locally administered")
        var config = VMConfig(id: "vm-a")
        #expect(config.effectiveGuestMAC == a)
        config.guestMAC = "06:00:ac:10:00:02"
        #expect(config.effectiveGuestMAC == "06:00:ac:10:00:02")
    }

    @Test func qemuGetsTheTapAndTheMAC() {
        var config = VMConfig(id: "net1")
        config.kernel = "/k"
        config.tap = "fctap1"
        let args = QEMUCommandLine(config: config, paths: StateDirectory(root: "/run/x", id: "net1").vmm, accelerator: .tcg,
                                   tscKHz: 0).arguments
        #expect(args.contains("tap,id=n0,ifname=fctap1,script=no,downscript=no"))
        #expect(args.contains("virtio-net-device,netdev=n0,mac=\(deterministicMAC(forVM: "net1"))"))
    }

    @Test func guestMessageCarriesAddressesRoutesAndResolver() {
        var n = HostNetworkConfig()
        #expect(!n.configuresGuest)
        n.guestAddresses = ["fd00:1::5/64"]
        n.gateways = ["fd00:1::1"]
        n.dnsServers = ["fd00:1::53"]
        n.mtu = 1400
        #expect(n.configuresGuest)
        let m = n.guestMessage(mac: "02:fc:00:00:00:01")
        #expect(m.interfaces == [NetworkInterfaceConfig(mac: "02:fc:00:00:00:01", mtu: 1400, addresses: ["fd00:1::5/64"])])
        #expect(m.routes == [NetworkRoute(destination: "default", gateway: "fd00:1::1")])
        #expect(m.dns == DNSConfig(servers: ["fd00:1::53"]))
        #expect(m.hosts == nil && m.hostname == nil)
    }

    @Test func validationRejectsBadNetworkOptions() {
        var config = VMConfig(id: "v")
        config.kernel = "/k"
        config.network.createTap = true
        #expect(throws: VMMError.self) { try config.validate() }   // --create-tap without --tap
        config.tap = "fctap0"
        config.network.netns = "bad/name"
        #expect(throws: VMMError.self) { try config.validate() }
        config.network.netns = "ok-ns"
        config.network.guestAddresses = ["fd00::5"]
        #expect(throws: VMMError.self) { try config.validate() }   // no prefix length
        config.network.guestAddresses = ["fd00::5/64"]
        #expect(throws: Never.self) { try config.validate() }
    }

    /// A TAP in a namespace the supervisor creates: right name, owner, MTU and address; everything is gone after
    /// tearDown, and after a "SIGKILLed" run (no tearDown) the next setUp/tearDown removes the leftovers.
    @Test func tapLifecycleInOwnNamespaceIncludingStaleCleanup() throws {
        let ns = "fcnt-\(getpid())"
        let scratch = try TemporaryDirectory(prefix: "/tmp/fcnet-")
        let state = scratch.path
        defer {
            _ = ip(["netns", "del", ns])
            scratch.remove()
        }
        var config = HostNetworkConfig()
        config.netns = ns
        config.createTap = true
        config.tapAddresses = ["fd00:77::1/64"]
        config.tapOwner = 4242
        config.mtu = 1400
        var logs: [String] = []
        let first = HostNetwork(config: config, tap: "fctap0", stateDirectory: state, log: { logs.append($0) })
        try first.setUp()
        let link = ip(["-n", ns, "-d", "link", "show", "dev", "fctap0"])
        #expect(link.status == 0, "\(link.output)")
        #expect(link.output.contains("mtu 1400"))
        #expect(link.output.contains("tun type tap"))
        #expect(link.output.contains("user 4242"))
        #expect(ip(["-n", ns, "-6", "addr", "show", "dev", "fctap0"]).output.contains("fd00:77::1/64"))
        // Not in the supervisor's own namespace.
        #expect(ip(["link", "show", "dev", "fctap0"]).status != 0)

        // The supervisor "dies" here: no tearDown. The next one for this VM cleans up and starts over.
        let second = HostNetwork(config: config, tap: "fctap0", stateDirectory: state, log: { logs.append($0) })
        try second.setUp()
        #expect(logs.contains { $0.contains("stale TAP fctap0") })
        #expect(ip(["-n", ns, "link", "show", "dev", "fctap0"]).status == 0)
        second.tearDown()
        #expect(ip(["-n", ns, "link", "show"]).status != 0, "namespace \(ns) still exists")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(ns)"))
        #expect(!FileManager.default.fileExists(atPath: state + "/netns-created"))
    }

    /// A namespace that existed before is used but never deleted; the TAP in it is.
    @Test func givenNamespaceIsKept() throws {
        let ns = "fcng-\(getpid())"
        let scratch = try TemporaryDirectory(prefix: "/tmp/fcnet-")
        let state = scratch.path
        #expect(ip(["netns", "add", ns]).status == 0)
        defer {
            _ = ip(["netns", "del", ns])
            scratch.remove()
        }
        var config = HostNetworkConfig()
        config.netns = ns
        config.createTap = true
        let network = HostNetwork(config: config, tap: "fctap9", stateDirectory: state, log: { _ in })
        try network.setUp()
        #expect(ip(["-n", ns, "link", "show", "dev", "fctap9"]).status == 0)
        network.tearDown()
        #expect(ip(["-n", ns, "link", "show", "dev", "fctap9"]).status != 0)
        #expect(FileManager.default.fileExists(atPath: "/run/netns/\(ns)"))
    }
}
