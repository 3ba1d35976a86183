import Foundation
import Glibc
import Testing
@testable import AddressAllocator

/// The fleet variant against a real PostgreSQL server: `FC_TEST_POSTGRES` (a libpq connection string) when set,
/// else a throwaway server (Unix socket only) started with scripts/test-postgres.sh (apt postgresql).
@Suite(.serialized) struct PostgresAllocatorTests {
    private static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }
        return path
    }()

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A connection string and a function that stops the server again (nil for an external server).
    private func server() throws -> (String, (() -> Void)?) {
        if let external = ProcessInfo.processInfo.environment["FC_TEST_POSTGRES"], !external.isEmpty { return (external, nil) }
        let dir = "/tmp/fc-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Output to a file, not a pipe: the server it starts would inherit the pipe and hold it open.
        let outFile = dir + ".out"
        defer { unlink(outFile) }
        func script(_ verb: String) throws -> (Int32, String) {
            try #require(FileManager.default.createFile(atPath: outFile, contents: nil), "cannot create \(outFile)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = [Self.repository + "/scripts/test-postgres.sh", verb, dir]
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle(forWritingAtPath: outFile)
            p.standardError = FileHandle(forWritingAtPath: outFile)
            try p.run()
            p.waitUntilExit()
            return (p.terminationStatus, (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "")
        }
        let (status, output) = try script("start")
        try #require(status == 0, "test-postgres.sh start failed: \(output)")
        let conninfo = output.split(separator: "\n").last.map(String.init) ?? ""
        return (conninfo, { _ = try? script("stop"); unlink(outFile) })
    }

    private func fcAddr() throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = (exe as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir + "/fc-addr") { return dir + "/fc-addr" }
            dir = (dir as NSString).deletingLastPathComponent
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test func concurrentProcessesReuseAndRelease() throws {
        let (conninfo, stop) = try server()
        defer { stop?() }
        let tool = try fcAddr()
        let tag = "r\(UInt32.random(in: 0...UInt32.max))"
        // A /112 makes random collisions likely among 1,000 (the UNIQUE constraint decides who wins).
        let prefix = "fd00:2::/112"
        var processes: [(Process, Pipe, Pipe)] = []
        for p in 0..<4 {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: tool)
            proc.arguments = ["--postgres", conninfo, "--prefix", prefix, "allocate"] + (0..<250).map { "\(tag)-p\(p)-\($0)" }
            let out = Pipe(), err = Pipe()
            proc.standardOutput = out
            proc.standardError = err
            try proc.run()
            processes.append((proc, out, err))
        }
        var addresses: [String: String] = [:]
        for (proc, out, err) in processes {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            proc.waitUntilExit()
            #expect(proc.terminationStatus == 0, "\(errors)")
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
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
