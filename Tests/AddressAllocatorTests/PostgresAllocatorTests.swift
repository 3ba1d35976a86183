import Foundation
import Glibc
import TestSupport
import Testing
@testable import AddressAllocator

/// The fleet variant against a real PostgreSQL server: `FC_TEST_POSTGRES` (a libpq connection string) when set,
/// else a throwaway server (Unix socket only) started with scripts/test-postgres.sh (apt postgresql).
@Suite(.serialized) struct PostgresAllocatorTests {
    /// A connection string and a function that stops the server again (nil for an external server).
    private func server() throws -> (String, (() -> Void)?) {
        if let external = ProcessInfo.processInfo.environment["FC_TEST_POSTGRES"], !external.isEmpty { return (external, nil) }
        let dir = "/tmp/fc-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func script(_ verb: String) throws -> (Int32, String) {
            // ChildUnderTest writes output to files, not pipes: the server it starts would hold a pipe open.
            let p = try ChildUnderTest("/bin/bash", [RepoPath.file("scripts/test-postgres.sh"), verb, dir], mergeStandardError: true)
            return (p.wait(timeout: 120).exitCode ?? -1, p.stdout)
        }
        let (status, output) = try script("start")
        try #require(status == 0, "test-postgres.sh start failed: \(output)")
        let conninfo = output.split(separator: "\n").last.map(String.init) ?? ""
        return (conninfo, { _ = try? script("stop") })
    }

    @Test func concurrentProcessesReuseAndRelease() throws {
        let (conninfo, stop) = try server()
        defer { stop?() }
        let tool = try BuiltProduct.path("fc-addr")
        let tag = "r\(UInt32.random(in: 0...UInt32.max))"
        // A /112 makes random collisions likely among 1,000 (the UNIQUE constraint decides who wins).
        let prefix = "fd00:2::/112"
        let processes = try (0..<4).map { p in
            try ChildUnderTest(tool, ["--postgres", conninfo, "--prefix", prefix, "allocate"] + (0..<250).map { "\(tag)-p\(p)-\($0)" })
        }
        var addresses: [String: String] = [:]
        for proc in processes {
            #expect(proc.wait(timeout: 120) == .exited(0), "\(proc.stderr)")
            for line in proc.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 2)
                addresses[String(parts[0])] = String(parts[1])
            }
        }
        #expect(addresses.count == 1000)
        #expect(Set(addresses.values).count == 1000)

        let allocator = try PostgresAddressAllocator(connectionString: conninfo, prefix: try IPv6Prefix(prefix))
        let stored = try allocator.all().filter { $0.instanceID.hasPrefix(tag + "-") }
        #expect(stored.count == 1000)
        for row in stored { #expect(addresses[row.instanceID] == row.address) }
        let id = "\(tag)-p3-42"
        #expect(try allocator.allocate(instanceID: id) == addresses[id])
        #expect(try allocator.release(instanceID: id))
        #expect(try allocator.lookup(instanceID: id) == nil)
        #expect(try !allocator.release(instanceID: id))
        let fresh = try allocator.allocate(instanceID: id)
        #expect(try IPv6Prefix(prefix).contains(try #require(IPv6Address.parse(fresh))))
        for row in try allocator.all() where row.instanceID.hasPrefix(tag + "-") { try allocator.release(instanceID: row.instanceID) }
    }
}
