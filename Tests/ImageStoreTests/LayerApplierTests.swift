import Glibc
@testable import ImageStore
import LinuxSystem
import Testing
import TestSupport

/// Tar streams → a tree: whiteouts, opaque directories, links, metadata, and paths that try to leave the root.
struct LayerApplierTests {
    func apply(_ layers: [[UInt8]], root: String) throws {
        let applier = LayerApplier(root: root)
        for (i, layer) in layers.enumerated() { try applier.apply(TarReader(ArraySource(layer), what: "layer \(i + 1)"), what: "layer \(i + 1)") }
    }

    /// Every path under `root`, relative, sorted (what the final layer set must produce).
    func tree(_ root: String, _ relative: String = "") throws -> [String] {
        var out: [String] = []
        for entry in try Directory.entries(root + relative) {
            let path = relative + "/" + entry.name
            out.append(path)
            if entry.kind == .directory { out += try tree(root, path) }
        }
        return out
    }

    @Test func whiteoutsOpaqueDirectoriesAndLinks() throws {
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-image-unit-")
        defer { dir.remove() }
        var one = TarBuilder()
        one.add("./", type: "5", mode: 0o755)
        one.add("etc/", type: "5", mode: 0o755)
        one.add("etc/a", data: Array("alpha\n".utf8))
        one.add("etc/b", data: Array("beta\n".utf8))
        one.add("etc/a2", type: "1", link: "etc/a")
        one.add("keep/x", mode: 0o600, uid: 1000, gid: 1000, data: Array("old".utf8))   // parent not in the stream
        one.add("keep/sub/y", data: [1, 2, 3])
        one.add("usr/lib/", type: "5", mode: 0o755)
        one.add("lib", type: "2", link: "/usr/lib")
        one.add("bin/tool", mode: 0o4755, mtime: 1_600_000_000, data: Array("#!/bin/sh\n".utf8))
        one.add("dev/null", type: "3", mode: 0o666, major: 1, minor: 3)
        var two = TarBuilder()
        two.add("etc/.wh.b")
        two.add("keep/new", data: Array("new".utf8))    // before the marker: stays
        two.add("keep/.wh..wh..opq")
        two.add("lib/libz.so", data: Array("z".utf8))   // through the symlink: lands in usr/lib
        two.add("gone/.wh.nothing")                     // a whiteout of nothing creates nothing
        try apply([one.finish(), two.finish()], root: dir.path)

        #expect(try tree(dir.path) == ["/bin", "/bin/tool", "/dev", "/dev/null", "/etc", "/etc/a", "/etc/a2", "/keep", "/keep/new",
                                       "/lib", "/usr", "/usr/lib", "/usr/lib/libz.so"])
        #expect(Files.readValue(dir.file("usr/lib/libz.so")) == "z")
        let a = try Files.status(dir.file("etc/a")), a2 = try Files.status(dir.file("etc/a2"))
        #expect(a.inode == a2.inode && a.links == 2)
        let tool = try Files.status(dir.file("bin/tool"))
        #expect(tool.permissions == 0o4755)
        #expect(tool.modifiedNanoseconds == 1_600_000_000 * 1_000_000_000)
        #expect(Files.readLink(dir.file("lib")) == "/usr/lib")
        let null = try Files.status(dir.file("dev/null"))
        #expect(null.type == .characterDevice && null.deviceNumber == UInt64(1 << 8 | 3))
    }

    @Test func paxLongNamesOwnersAndTimes() throws {
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-image-unit-")
        defer { dir.remove() }
        let long = String(repeating: "d", count: 120) + "/" + String(repeating: "f", count: 150)
        var t = TarBuilder()
        t.pax([("path", long), ("uid", "4242"), ("mtime", "1700000000.25")])
        t.add("short-name-ignored", data: Array("x".utf8))
        t.add(String(repeating: "p", count: 20) + "/./plain", type: "0", uid: 7, gid: 8, data: [])
        try apply([t.finish()], root: dir.path)
        let status = try Files.status(dir.file(long))
        #expect(status.uid == 4242)
        #expect(status.modifiedNanoseconds == 1_700_000_000_250_000_000)
        #expect(try Files.status(dir.file(String(repeating: "p", count: 20) + "/plain")).gid == 8)
    }

    @Test func symlinksNeverLeadOutOfTheRoot() throws {
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-image-unit-")
        defer { dir.remove() }
        let root = dir.file("root")
        try Files.makeDirectory(root)
        let outside = "fc-image-escape-\(getpid())"
        var t = TarBuilder()
        t.add("up", type: "2", link: "../../../../../var/tmp/\(outside)")
        t.add("abs", type: "2", link: "/var/tmp/\(outside)")
        t.add("up/file", data: Array("1".utf8))
        t.add("abs/file2", data: Array("2".utf8))
        try apply([t.finish()], root: root)
        #expect(!Files.exists("/var/tmp/\(outside)"))
        #expect(Files.readValue(root + "/var/tmp/\(outside)/file") == "1")
        #expect(Files.readValue(root + "/var/tmp/\(outside)/file2") == "2")
    }

    @Test func refusedLayers() throws {
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-image-unit-")
        defer { dir.remove() }
        func error(_ build: (inout TarBuilder) -> Void) -> ImageError? {
            var t = TarBuilder()
            build(&t)
            do { try apply([t.finish()], root: dir.path); return nil } catch let e as ImageError { return e } catch { return nil }
        }
        #expect(error { $0.add("a/../../etc/passwd") }?.code == .unsafeLayer)
        #expect(error { $0.add("link", type: "1", link: "missing") }?.code == .unsafeLayer)
        #expect(error { $0.add("bad", corruptChecksum: true) }?.message == "layer 1: bad tar header checksum (not a tar stream?)")
        #expect(error { $0.add("sparse", type: "S") }?.code == .unsupported)
        // A member whose data the stream does not hold: truncated.
        var t = TarBuilder()
        t.add("big", data: [UInt8](repeating: 7, count: 2000))
        let cut = Array(t.bytes.prefix(1024))
        #expect(throws: ImageError.self) { try apply([cut], root: dir.path) }
    }

    @Test func gzipGarbageAndTruncation() throws {
        let garbage: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let source = try GzipSource(ArraySource(garbage), what: "layer 1")
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect {
            try buffer.withUnsafeMutableBytes { _ = try source.read(into: $0) }
        } throws: { ($0 as? ImageError)?.code == .corruptLayer }
        // The first bytes of a real gzip stream of "hello\n" (gzip -n), cut before its end.
        let gzip: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00]
        let whole = try GzipSource(ArraySource(gzip + [0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00]), what: "whole")
        var out: [UInt8] = []
        while true {
            let n = try buffer.withUnsafeMutableBytes { try whole.read(into: $0) }
            if n == 0 { break }
            out += buffer[..<n]
        }
        #expect(out == Array("hello\n".utf8))
        let cut = try GzipSource(ArraySource(gzip), what: "cut")
        #expect {
            while try buffer.withUnsafeMutableBytes({ try cut.read(into: $0) }) > 0 {}
        } throws: { ($0 as? ImageError)?.message == "cut: gzip stream ends early (truncated)" }
    }
}
