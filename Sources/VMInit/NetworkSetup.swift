import Glibc
import LinuxSystem
import VsockProtocol

/// Why a `network` message was refused: the protocol error code and a message naming the bad field or step.
struct NetworkSetupError: Error {
    var code: ErrorCode
    var message: String
    static func invalid(_ m: String) -> NetworkSetupError { NetworkSetupError(code: .invalidMessage, message: m) }
    static func failed(_ m: String) -> NetworkSetupError { NetworkSetupError(code: .internal, message: m) }
}

/// Applies a `network` message: validates everything first (nothing changes on a malformed message), then sets
/// the hostname, configures each interface over rtnetlink, adds routes and writes resolv.conf and hosts.
struct NetworkSetup {
    /// Where `resolv.conf` and `hosts` are written (`/etc` in a VM; tests use a scratch directory).
    var etcDirectory: String = "/etc"
    /// Where interfaces are listed for MAC lookup.
    var sysClassNet: String = "/sys/class/net"

    /// An address or prefix parsed from text: 4 or 16 bytes and a prefix length.
    struct IPPrefix {
        var bytes: [UInt8]
        var length: UInt8
        var family: Int32 { bytes.count == 4 ? AF_INET : AF_INET6 }
    }

    /// Parses an IPv4 or IPv6 address (no prefix).
    static func parseAddress(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 45, !text.utf8.contains(0) else { return nil }
        var v6 = [UInt8](repeating: 0, count: 16)
        if text.contains(":") {
            return inet_pton(AF_INET6, text, &v6) == 1 ? v6 : nil
        }
        var v4 = [UInt8](repeating: 0, count: 4)
        return inet_pton(AF_INET, text, &v4) == 1 ? v4 : nil
    }

    /// Parses `ADDRESS/LENGTH`.
    static func parseCIDR(_ text: String) -> IPPrefix? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bytes = parseAddress(String(parts[0])), let length = UInt8(parts[1]),
              Int(length) <= bytes.count * 8 else { return nil }
        return IPPrefix(bytes: bytes, length: length)
    }

    /// Normalizes `aa:bb:cc:dd:ee:ff` (any case) or returns nil.
    static func parseMAC(_ text: String) -> String? {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
        return parts.joined(separator: ":")
    }

    /// A token safe to write into resolv.conf or hosts (no whitespace, no control characters, no `#`).
    static func isPlainToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 253 && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7f && $0 != UInt8(ascii: "#") }
    }

    /// The kernel name and index of the interface `reference` names (a MAC or an interface name).
    func resolveInterface(_ reference: String) throws(NetworkSetupError) -> (name: String, index: Int32) {
        if let mac = Self.parseMAC(reference) {
            for name in Directory.names(sysClassNet) where Files.readValue("\(sysClassNet)/\(name)/address") == mac {
                if let index = SystemControl.interfaceIndex(name) { return (name, index) }
            }
            throw .invalid("no interface has MAC \(mac)")
        }
        guard !reference.isEmpty, reference.utf8.count < 16, !reference.contains("/") else {
            throw .invalid("bad interface name \"\(reference.prefix(40))\"")
        }
        guard let index = SystemControl.interfaceIndex(reference) else { throw .invalid("no interface named \"\(reference)\"") }
        return (reference, index)
    }

    /// Validates and applies `config`; returns the configured interface names in request order.
    func apply(_ config: NetworkConfig) throws(NetworkSetupError) -> [String] {
        // 1. Validate every field.
        struct Link { var name: String; var index: Int32; var mtu: UInt32?; var addresses: [IPPrefix] }
        var links: [Link] = []
        for (i, interface) in (config.interfaces ?? []).enumerated() {
            guard let reference = interface.mac ?? interface.name else {
                throw .invalid("interfaces[\(i)] has neither mac nor name")
            }
            if let mac = interface.mac, Self.parseMAC(mac) == nil { throw .invalid("interfaces[\(i)]: bad MAC \"\(mac.prefix(40))\"") }
            if let mtu = interface.mtu, !(68...65535).contains(mtu) { throw .invalid("interfaces[\(i)]: MTU \(mtu) out of 68...65535") }
            var addresses: [IPPrefix] = []
            for text in interface.addresses ?? [] {
                guard let p = Self.parseCIDR(text) else { throw .invalid("interfaces[\(i)]: bad address \"\(text.prefix(60))\"") }
                addresses.append(p)
            }
            let (name, index) = try resolveInterface(reference)
            links.append(Link(name: name, index: index, mtu: interface.mtu, addresses: addresses))
        }
        struct Route { var destination: IPPrefix; var gateway: [UInt8]?; var oif: Int32?; var metric: UInt32? }
        var routes: [Route] = []
        for (i, route) in (config.routes ?? []).enumerated() {
            let gateway = try route.gateway.map { (g) throws(NetworkSetupError) -> [UInt8] in
                guard let b = Self.parseAddress(g) else { throw .invalid("routes[\(i)]: bad gateway \"\(g.prefix(60))\"") }
                return b
            }
            let destination: IPPrefix
            if route.destination == "default" {
                guard let gateway else { throw .invalid("routes[\(i)]: a default route needs a gateway (or use 0.0.0.0/0, ::/0)") }
                destination = IPPrefix(bytes: [UInt8](repeating: 0, count: gateway.count), length: 0)
            } else {
                guard let p = Self.parseCIDR(route.destination) else {
                    throw .invalid("routes[\(i)]: bad destination \"\(route.destination.prefix(60))\"")
                }
                destination = p
            }
            if let gateway, gateway.count != destination.bytes.count {
                throw .invalid("routes[\(i)]: gateway and destination are of different families")
            }
            let oif = try route.interface.map { (r) throws(NetworkSetupError) -> Int32 in try resolveInterface(r).index }
            routes.append(Route(destination: destination, gateway: gateway, oif: oif, metric: route.metric))
        }
        for server in config.dns?.servers ?? [] where Self.parseAddress(server) == nil {
            throw .invalid("dns: bad server \"\(server.prefix(60))\"")
        }
        for domain in config.dns?.search ?? [] where !Self.isPlainToken(domain) {
            throw .invalid("dns: bad search domain \"\(domain.prefix(60))\"")
        }
        for entry in config.hosts ?? [] {
            guard Self.parseAddress(entry.address) != nil, !entry.names.isEmpty, entry.names.allSatisfy(Self.isPlainToken) else {
                throw .invalid("hosts: bad entry for \"\(entry.address.prefix(60))\"")
            }
        }
        if let hostname = config.hostname {
            guard Self.isPlainToken(hostname), hostname.utf8.count <= 64 else { throw .invalid("bad hostname") }
        }

        // 2. Apply.
        if let hostname = config.hostname {
            do { try SystemControl.setHostname(hostname) } catch { throw .failed("hostname: \(error)") }
        }
        let netlink: RouteNetlink
        do { netlink = try RouteNetlink() } catch { throw .failed("\(error)") }
        if let lo = try? resolveInterface("lo") {
            do { try netlink.setLink(index: lo.index, up: true, mtu: nil) } catch { throw .failed("lo: \(error)") }
        }
        for link in links {
            do {
                try netlink.setLink(index: link.index, up: true, mtu: link.mtu)
                for a in link.addresses {
                    try netlink.addAddress(index: link.index, address: a.bytes, prefixLength: a.length,
                                           flags: a.family == AF_INET6 ? RouteNetlink.addressNoDAD : 0)
                }
            } catch { throw .failed("\(link.name): \(error)") }
        }
        for (i, r) in routes.enumerated() {
            do {
                try netlink.addRoute(family: r.destination.family, destination: r.destination.bytes,
                                     prefixLength: r.destination.length, gateway: r.gateway, outputIndex: r.oif,
                                     metric: r.metric)
            } catch { throw .failed("routes[\(i)]: \(error)") }
        }
        if let dns = config.dns {
            var text = "# written by vm-init from the host's network message\n"
            for server in dns.servers ?? [] { text += "nameserver \(server)\n" }
            if let search = dns.search, !search.isEmpty { text += "search \(search.joined(separator: " "))\n" }
            try writeFile("resolv.conf", text)
        }
        if let hosts = config.hosts {
            var text = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
            for entry in hosts { text += "\(entry.address)\t\(entry.names.joined(separator: " "))\n" }
            try writeFile("hosts", text)
        }
        return links.map { $0.name }
    }

    // MARK: - Files

    /// Replaces `<etcDirectory>/<name>` in one step. /etc/resolv.conf is often a symlink (systemd): the rename
    /// replaces the link itself, not its target.
    private func writeFile(_ name: String, _ text: String) throws(NetworkSetupError) {
        let path = "\(etcDirectory)/\(name)"
        do { try Files.writeAtomically(path, text, temporarySuffix: ".vm-init.tmp") } catch {
            throw .failed("write \(path): \(error)")
        }
    }
}
