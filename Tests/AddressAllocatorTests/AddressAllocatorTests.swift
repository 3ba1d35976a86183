import Foundation
import TestSupport
import Testing
@testable import AddressAllocator

/// A fresh temporary directory for a test's database (`alloc.db` in it); the caller removes it.
private func temporaryDatabase() throws -> TemporaryDirectory {
    try TemporaryDirectory(prefix: "/tmp/fc-addr-")
}

@Suite struct IPv6TextTests {
    @Test func formatIsCanonical() throws {
        let cases = ["fd00:1::", "::1", "2001:db8::1:0:0:1", "fd00:0:0:1::5", "1:2:3:4:5:6:7:8", "::"]
        for text in cases {
            let bytes = try #require(IPv6Address.parse(text), "\(text)")
            #expect(IPv6Address.format(bytes) == text)
        }
        #expect(IPv6Address.format(try #require(IPv6Address.parse("FD00:0001:0000:0000:0000:0000:0000:0001"))) == "fd00:1::1")
    }

    @Test func rejectsBadText() {
        for text in ["", ":::", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7"] {
            #expect(IPv6Address.parse(text) == nil, "\(text)")
        }
        #expect(throws: AllocatorError.self) { try IPv6Prefix("fd00::/200") }
        #expect(throws: AllocatorError.self) { try IPv6Prefix("fd00::1/64") }
        #expect(throws: AllocatorError.self) { try IPv6Prefix("10.0.0.0/8") }
    }

    @Test func randomAddressesStayInPrefix() throws {
        let prefix = try IPv6Prefix("fd00:1:2::/48")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let a = prefix.randomAddress(using: &rng)
            #expect(prefix.contains(a))
            #expect(Array(a[0..<6]) == [0xfd, 0x00, 0x00, 0x01, 0x00, 0x02])
        }
    }
}

@Suite struct AddressAllocatorTests {
    @Test func storedAddressIsReusedAndReleaseWorks() throws {
        let scratch = try temporaryDatabase()
        defer { scratch.remove() }
        let path = scratch.file("alloc.db")
        let prefix = try IPv6Prefix("fd00:1::/64")
        let a = try SQLiteAddressAllocator(databasePath: path, prefix: prefix)
        let first = try a.allocate(instanceID: "vm-1")
        #expect(prefix.contains(try #require(IPv6Address.parse(first))))
        #expect(try a.allocate(instanceID: "vm-1") == first)
        // Another connection (as another process would) sees the same stored address.
        let b = try SQLiteAddressAllocator(databasePath: path, prefix: prefix)
        #expect(try b.allocate(instanceID: "vm-1") == first)
        #expect(try b.lookup(instanceID: "vm-1") == first)
        #expect(try a.release(instanceID: "vm-1"))
        #expect(try a.lookup(instanceID: "vm-1") == nil)
        #expect(try !a.release(instanceID: "vm-1"))
        #expect(try a.all().isEmpty)
        #expect(throws: AllocatorError.self) { try a.allocate(instanceID: "") }
    }

    @Test func collisionRetriesWithAnotherAddress() throws {
        // A /120 has 254 usable host parts: filling 200 of them forces many unique-constraint conflicts.
        let prefix = try IPv6Prefix("fd00:1::/120")
        let scratch = try temporaryDatabase()
        defer { scratch.remove() }
        let a = try SQLiteAddressAllocator(databasePath: scratch.file("alloc.db"), prefix: prefix, maxAttempts: 10_000)
        var seen = Set<String>()
        for i in 0..<200 { seen.insert(try a.allocate(instanceID: "vm-\(i)")) }
        #expect(seen.count == 200)
        #expect(try a.all().count == 200)
    }

    @Test func fullPrefixIsReportedNotLooped() throws {
        let prefix = try IPv6Prefix("fd00:1::/120")
        let scratch = try temporaryDatabase()
        defer { scratch.remove() }
        let a = try SQLiteAddressAllocator(databasePath: scratch.file("alloc.db"), prefix: prefix, maxAttempts: 100_000)
        for i in 0..<254 { _ = try a.allocate(instanceID: "vm-\(i)") }
        #expect(throws: AllocatorError.exhausted(attempts: 100_000)) { try a.allocate(instanceID: "one-too-many") }
    }

    /// 1,000 allocations from 4 processes at once (250 each, through `fc-addr`) yield 1,000 distinct addresses;
    /// a fifth run over the same ids returns the stored addresses.
    @Test func concurrentProcessesGetDistinctAddresses() throws {
        let tool = try BuiltProduct.path("fc-addr")
        let scratch = try temporaryDatabase()
        defer { scratch.remove() }
        let path = scratch.file("alloc.db")
        // A /112 (65,534 usable) makes random collisions likely among 1,000, so the constraint is exercised.
        let prefix = "fd00:1::/112"
        let processes = try (0..<4).map { p in
            try ChildUnderTest(tool, ["--db", path, "--prefix", prefix, "allocate"] + (0..<250).map { "p\(p)-vm-\($0)" })
        }
        var addresses: [String: String] = [:]
        for proc in processes {
            #expect(proc.wait(timeout: 120) == .exited(0))
            for line in proc.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 2)
                addresses[String(parts[0])] = String(parts[1])
            }
        }
        #expect(addresses.count == 1000)
        #expect(Set(addresses.values).count == 1000)
        let allocator = try SQLiteAddressAllocator(databasePath: path, prefix: try IPv6Prefix(prefix))
        let stored = try allocator.all()
        #expect(stored.count == 1000)
        for row in stored { #expect(addresses[row.instanceID] == row.address) }
        #expect(try allocator.allocate(instanceID: "p2-vm-17") == addresses["p2-vm-17"])
    }
}
