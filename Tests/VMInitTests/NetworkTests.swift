import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// The `network` message on the namespace rung: vm-init as PID 1 in its own network namespace configures a veth
/// created inside it, over rtnetlink. Nothing outside the namespace is touched (resolv.conf and hosts go to a
/// scratch directory through `--etc`).
extension NamespaceTests {
    @Suite struct Network {
        /// Sends `network` and waits for its one reply (`network_applied` or `error`).
        private func configure(_ client: FrameClient, _ config: NetworkConfig) throws -> Message {
            client.send(.network(config))
            let start = client.others.count
            try client.pump(until: {
                client.others[start...].contains {
                    if case .networkApplied = $0.message { return true }
                    if case .error = $0.message { return true }
                    return false
                }
            })
            return try #require(client.others[start...].first {
                if case .networkApplied = $0.message { return true }
                if case .error = $0.message { return true }
                return false
            }).message
        }

        private func sh(_ client: FrameClient, _ session: SessionID, _ script: String) throws -> String {
            let r = try client.run(ExecRequest(session: session, argv: ["sh", "-c", script]))
            #expect(r.exit?.status == ExitStatus(code: 0), "\(script): \(String(decoding: r.stderr, as: UTF8.self))")
            return r.stdoutText
        }

        @Test func appliesInterfacesRoutesResolverHostsAndHostname() throws {
            let scratch = try TemporaryDirectory(prefix: "/var/tmp/vminit-etc-")
            defer { scratch.remove() }
            let etc = scratch.path
            try withGuest(extraArguments: ["--etc", etc], network: true) { guest in
                let client = try guest.connect()
                #expect(client.guestHello?.capabilities.contains("network") == true)
                _ = try sh(client, 1, "ip link add v0 address 02:00:00:00:00:05 type veth peer name v1 && ip link set v1 up")

                let config = NetworkConfig(
                    interfaces: [NetworkInterfaceConfig(mac: "02:00:00:00:00:05", mtu: 1400,
                                                        addresses: ["fd00:1::5/64", "10.9.0.2/24"])],
                    routes: [NetworkRoute(destination: "default", gateway: "fd00:1::1"),
                             NetworkRoute(destination: "default", gateway: "10.9.0.1"),
                             NetworkRoute(destination: "10.10.0.0/16", gateway: "10.9.0.1", interface: "v0", metric: 50)],
                    dns: DNSConfig(servers: ["fd00:1::53", "10.9.0.53"], search: ["internal", "example.test"]),
                    hosts: [HostsEntry(address: "fd00:1::1", names: ["gateway", "gw"])],
                    hostname: "net-test")
                let reply = try configure(client, config)
                #expect(reply == .networkApplied(NetworkApplied(interfaces: ["v0"])))

                let link = try sh(client, 2, "ip -o link show dev v0; ip -o link show dev lo")
                #expect(link.contains("mtu 1400"))
                #expect(link.contains("state UP") || link.contains(",UP"))
                #expect(link.contains("lo: <LOOPBACK,UP"))
                // The allocated address is usable at once: no DAD, never tentative (the kernel's own link-local
                // address on the same link still does DAD, so only this line is checked).
                let v6 = try sh(client, 3, "ip -6 -o addr show dev v0 | grep fd00:1::5")
                #expect(v6.contains("inet6 fd00:1::5/64"))
                #expect(v6.contains("nodad"))
                #expect(!v6.contains("tentative"))
                #expect(try sh(client, 4, "ip -4 -o addr show dev v0").contains("inet 10.9.0.2/24"))
                let routes = try sh(client, 5, "ip -6 route show default; ip -4 route")
                #expect(routes.contains("default via fd00:1::1 dev v0"))
                #expect(routes.contains("default via 10.9.0.1 dev v0"))
                #expect(routes.contains("10.10.0.0/16 via 10.9.0.1 dev v0") && routes.contains("metric 50"))
                #expect(try sh(client, 6, "hostname") == "net-test\n")
                let resolv = FileContents.text(etc + "/resolv.conf") ?? ""
                #expect(resolv.contains("nameserver fd00:1::53\nnameserver 10.9.0.53\nsearch internal example.test\n"))
                let hosts = FileContents.text(etc + "/hosts") ?? ""
                #expect(hosts.contains("127.0.0.1\tlocalhost\n"))
                #expect(hosts.contains("fd00:1::1\tgateway gw\n"))

                // Reapplying is harmless (addresses and routes are replaced, not duplicated).
                #expect(try configure(client, config) == .networkApplied(NetworkApplied(interfaces: ["v0"])))
                #expect(try sh(client, 7, "ip -6 -o addr show dev v0 | grep -c fd00:1::5") == "1\n")
            }
        }

        @Test func refusesBadConfigurationsWithAnError() throws {
            let scratch = try TemporaryDirectory(prefix: "/var/tmp/vminit-etc-")
            defer { scratch.remove() }
            let etc = scratch.path
            try withGuest(extraArguments: ["--etc", etc], network: true) { guest in
                let client = try guest.connect()
                _ = try sh(client, 1, "ip link add v0 address 02:00:00:00:00:07 type veth peer name v1")
                func code(_ config: NetworkConfig) throws -> ErrorCode? {
                    guard case .error(let e) = try configure(client, config) else { return nil }
                    #expect(e.session == nil)
                    return e.code
                }
                #expect(try code(NetworkConfig(interfaces: [NetworkInterfaceConfig(mac: "02:00:00:00:00:99")])) == .invalidMessage)
                #expect(try code(NetworkConfig(interfaces: [NetworkInterfaceConfig(mac: "not-a-mac")])) == .invalidMessage)
                #expect(try code(NetworkConfig(interfaces: [NetworkInterfaceConfig(name: "nope0")])) == .invalidMessage)
                #expect(try code(NetworkConfig(interfaces: [NetworkInterfaceConfig(name: "v0", addresses: ["fd00::1/129"])])) == .invalidMessage)
                #expect(try code(NetworkConfig(interfaces: [NetworkInterfaceConfig(name: "v0", mtu: 10)])) == .invalidMessage)
                #expect(try code(NetworkConfig(routes: [NetworkRoute(destination: "default")])) == .invalidMessage)
                #expect(try code(NetworkConfig(routes: [NetworkRoute(destination: "10.0.0.0/8", gateway: "fd00::1")])) == .invalidMessage)
                #expect(try code(NetworkConfig(dns: DNSConfig(search: ["a\nnameserver 1.2.3.4"]))) == .invalidMessage)
                #expect(try code(NetworkConfig(hosts: [HostsEntry(address: "x", names: ["a"])])) == .invalidMessage)
                // Valid but refused by the kernel: the gateway is not reachable.
                #expect(try code(NetworkConfig(routes: [NetworkRoute(destination: "default", gateway: "10.99.0.1")])) == .internal)
                // Nothing malformed was written.
                #expect(FileContents.text(etc + "/resolv.conf") == nil)
                // The connection is still usable.
                #expect(try sh(client, 2, "echo ok") == "ok\n")
            }
        }
    }
}
