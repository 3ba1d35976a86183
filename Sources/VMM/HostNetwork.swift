import Glibc
import LinuxSystem
import VsockProtocol

/// The host side of a VM's network: an optional network namespace, a persistent TAP device inside it with the
/// host's (gateway) addresses, and the guest's configuration sent to vm-init as a `network` message.
///
/// Devices and namespaces are managed with iproute2 (`ip`), run synchronously before boot and after the VM is
/// gone. Isolation: each VM's TAP lives in its own namespace (or is routed by the caller); two VMs' TAPs never
/// share a bridge here, so VMs cannot reach each other unless a namespace outside forwards between them.
public struct HostNetworkConfig: Sendable, Equatable {
    /// Network namespace name (under /run/netns) the TAP is created in and the VMM runs in. Created when
    /// missing (and then deleted at exit); nil: the supervisor's own namespace.
    public var netns: String?
    /// Create the TAP named ``VMConfig/tap`` (deleting a stale TAP of that name first) and delete it at exit.
    public var createTap = false
    /// Addresses (CIDR) given to the host end of the TAP, e.g. the guest's gateway `fd00:1::1/64`.
    public var tapAddresses: [String] = []
    /// Owner uid of the TAP (the jailer uid when jailed).
    public var tapOwner: UInt32?
    /// The guest's addresses (CIDR). When any guest field is set, vm-init gets a `network` message after hello.
    public var guestAddresses: [String] = []
    /// Default-route gateways (one per family).
    public var gateways: [String] = []
    public var dnsServers: [String] = []
    public var dnsSearch: [String] = []
    public var guestHostname: String?
    public var mtu: UInt32?

    public init() {}

    /// Whether vm-init should get a `network` message.
    public var configuresGuest: Bool {
        !guestAddresses.isEmpty || !gateways.isEmpty || !dnsServers.isEmpty || !dnsSearch.isEmpty
            || guestHostname != nil || mtu != nil
    }

    /// The `network` message for a guest whose interface has MAC `mac`.
    public func guestMessage(mac: String) -> NetworkConfig {
        NetworkConfig(
            interfaces: [NetworkInterfaceConfig(mac: mac, mtu: mtu, addresses: guestAddresses.isEmpty ? nil : guestAddresses)],
            routes: gateways.isEmpty ? nil : gateways.map { NetworkRoute(destination: "default", gateway: $0) },
            dns: dnsServers.isEmpty && dnsSearch.isEmpty
                ? nil : DNSConfig(servers: dnsServers.isEmpty ? nil : dnsServers, search: dnsSearch.isEmpty ? nil : dnsSearch),
            hostname: guestHostname)
    }

    /// The namespace's path, for `nsenter --net=`.
    public var netnsPath: String? { netns.map { "/run/netns/\($0)" } }

    static func isValidName(_ s: String, max: Int) -> Bool {
        !s.isEmpty && s.utf8.count <= max && s.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
        }
    }
}

/// A deterministic, locally administered unicast MAC for a VM id: `02:fc` followed by 32 bits of FNV-1a of the id.
public func deterministicMAC(forVM id: String) -> String {
    var hash: UInt32 = 0x811c_9dc5
    for byte in id.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    let bytes: [UInt8] = [0x02, 0xfc, UInt8(hash >> 24), UInt8((hash >> 16) & 0xff), UInt8((hash >> 8) & 0xff), UInt8(hash & 0xff)]
    return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
}

/// Creates and removes the host devices of one VM. Every step logs through `log` and reports failure as a
/// ``VMMError``; removal never throws (it runs on the way out).
public final class HostNetwork {
    let config: HostNetworkConfig
    let tap: String?
    /// Marker in the state directory: this supervisor (or a previous one for this id) created the namespace.
    private let netnsMarker: String
    private let log: (String) -> Void
    private var createdNetns = false
    private var createdTap = false

    public init(config: HostNetworkConfig, tap: String?, stateDirectory: String, log: @escaping (String) -> Void) {
        self.config = config
        self.tap = tap
        self.netnsMarker = stateDirectory + "/netns-created"
        self.log = log
    }

    /// Namespace (created if missing), stale TAP removal, TAP creation, host addresses, link up.
    public func setUp() throws(VMMError) {
        if let ns = config.netns {
            if !Files.exists("/run/netns/\(ns)") {
                try ip(["netns", "add", ns], what: "create network namespace \(ns)")
                createdNetns = true
                // Without the marker a killed supervisor's successor leaves the namespace behind: log, go on.
                do { try Files.writeAtomically(netnsMarker, ns + "\n") } catch { log("cannot record \(netnsMarker): \(error)") }
            } else if Files.exists(netnsMarker) {
                createdNetns = true   // left by a previous (killed) supervisor of this VM: still ours to delete
            }
        }
        guard config.createTap, let tap else { return }
        if isStaleTap(tap) {
            log("removing stale TAP \(tap)")
            _ = try? ip(inNetns(["link", "del", "dev", tap]), what: "delete stale TAP")
        }
        var add = ["tuntap", "add", "dev", tap, "mode", "tap"]
        if let owner = config.tapOwner { add += ["user", "\(owner)"] }
        try ip(inNetns(add), what: "create TAP \(tap)")
        createdTap = true
        if let mtu = config.mtu { try ip(inNetns(["link", "set", "dev", tap, "mtu", "\(mtu)"]), what: "TAP MTU") }
        for address in config.tapAddresses {
            var args = ["addr", "add", address, "dev", tap]
            if address.contains(":") { args.append("nodad") }
            try ip(inNetns(args), what: "address \(address) on \(tap)")
        }
        try ip(inNetns(["link", "set", "dev", tap, "up"]), what: "TAP up")
    }

    /// Deletes what ``setUp()`` created. Safe to call more than once.
    public func tearDown() {
        if createdTap, let tap {
            createdTap = false
            if (try? ip(inNetns(["link", "del", "dev", tap]), what: "delete TAP")) == nil { log("could not delete TAP \(tap)") }
        }
        if createdNetns, let ns = config.netns {
            createdNetns = false
            if (try? ip(["netns", "del", ns], what: "delete namespace")) == nil { log("could not delete namespace \(ns)") }
            try? Files.remove(netnsMarker)
        }
    }

    /// Whether a TUN/TAP device of this name exists (in the namespace): only those are deleted as stale.
    private func isStaleTap(_ name: String) -> Bool {
        (try? ip(inNetns(["-d", "link", "show", "dev", name]), what: "", quiet: true, wantOutput: "tun")) != nil
    }

    private func inNetns(_ args: [String]) -> [String] {
        config.netns.map { ["-n", $0] + args } ?? args
    }

    /// Runs `ip ARGS`; throws when it fails (or when `wantOutput` is not in its output).
    @discardableResult
    private func ip(_ args: [String], what: String, quiet: Bool = false, wantOutput: String? = nil) throws(VMMError) -> String {
        let pipe: Pipe
        do { pipe = try Pipe() } catch { throw VMMError(.bootFailed, "\(what)", cause: error) }
        let reader = pipe.readEnd, writer = pipe.writeEnd
        let pid: Int32
        do {
            pid = try ChildProcess.launch(Self.ipPath, arguments: args, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                          standardOutput: writer, standardError: writer)
        } catch {
            reader.close(); writer.close()
            throw VMMError(.bootFailed, "\(what): cannot run ip: \(error)", cause: error)
        }
        writer.close()
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while let n = try? chunk.withUnsafeMutableBytes({ (b) throws(SystemError) in try reader.read(into: b) }), n > 0 {
            if output.count < 65536 { output += chunk[0..<n] }
        }
        reader.close()
        let status = (try? ChildProcess.wait(pid: pid, nonBlocking: false))??.termination
        let text = String(decoding: output, as: UTF8.self)
        guard case .exited(0)? = status, wantOutput.map({ text.contains($0) }) ?? true else {
            if !quiet { log("ip \(args.joined(separator: " ")): \(text.prefix(300))") }
            throw VMMError(.bootFailed, "\(what) failed: \(text.prefix(300))")
        }
        return text
    }

    static let ipPath: String = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { access($0, X_OK) == 0 } ?? "/usr/sbin/ip"
}
