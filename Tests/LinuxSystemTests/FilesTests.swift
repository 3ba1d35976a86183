import Dispatch
import Glibc
import LinuxSystem
import Synchronization
import Testing

/// Files and Directory round trips in a scratch directory.
struct FilesTests {
    private func withScratch(_ body: (String) throws -> Void) throws {
        let directory = try Files.makeTemporaryDirectory(prefix: "/tmp/linuxsystem-files-")
        defer { try? Files.removeTree(directory) }
        #expect(Files.isDirectory(directory))
        try body(directory)
    }

    @Test func writeReadAppendRoundTrip() throws {
        try withScratch { dir in
            let path = dir + "/state.json"
            let bytes: [UInt8] = [0, 1, 2, 255, 10]
            try Files.writeAtomically(path, bytes, mode: 0o600)
            #expect(try Files.readAll(path) == bytes)
            #expect(try Directory.entries(dir).map(\.name) == ["state.json"], "the temporary file was left behind")
            try Files.writeAtomically(path, "replaced\n")
            #expect(try Files.readText(path) == "replaced\n")
            #expect(Files.readValue(path) == "replaced")
            #expect(try Files.readAll(path, limit: 3) == Array("rep".utf8))

            let log = dir + "/events.jsonl"
            try Files.appendLine(log, "one")
            try Files.appendLine(log, "two")
            #expect(try Files.readText(log) == "one\ntwo\n")

            try Files.writeExisting(log, "xy")
            #expect(try Files.readText(log) == "xye\ntwo\n")  // no truncation: procfs-knob semantics
            #expect(throws: SystemError.self) { try Files.writeExisting(dir + "/missing", "x") }
            #expect { _ = try Files.readAll(dir + "/missing") } throws: { ($0 as? SystemError)?.errno == ENOENT }
            #expect(Files.readValue(dir + "/missing") == nil)
        }
    }

    /// Writers of one path at once (threads here; processes alike): each gets its own temporary, every write
    /// succeeds, the file ends as one of them whole, and no temporary is left.
    @Test func concurrentAtomicWritesOfOnePathNeverShareATemporary() throws {
        try withScratch { dir in
            let path = dir + "/ref.json"
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { writer in
                for round in 0..<200 {
                    let text = String(repeating: "\(writer)-\(round);", count: 50)
                    do { try Files.writeAtomically(path, text) } catch { failures.withLock { $0.append("\(error)") } }
                }
            }
            let failed = failures.withLock { $0 }
            #expect(failed.count == 0, "\(failed.prefix(3))")
            let final = try Files.readText(path)
            let unit = final.split(separator: ";").first.map { $0 + ";" } ?? ""
            #expect(!unit.isEmpty && final == String(repeating: String(unit), count: 50))
            #expect(try Directory.entries(dir).map(\.name) == ["ref.json"])
        }
    }

    @Test func directoriesListCopyAndRemove() throws {
        try withScratch { dir in
            try Files.makeDirectories(dir + "/a/b/c")
            try Files.makeDirectories(dir + "/a/b/c")  // existing: fine
            try Files.writeAtomically(dir + "/a/file", "data")
            try Files.copy(dir + "/a/file", to: dir + "/a/b/copy")
            #expect(try Files.readText(dir + "/a/b/copy") == "data")
            #expect(symlink("file", dir + "/a/link") == 0)
            #expect(Files.readLink(dir + "/a/link") == "file")
            #expect(Files.readLink(dir + "/a/file") == nil)
            #expect(Files.type(of: dir + "/a/link") == .regular)
            #expect(Files.type(of: dir + "/a/link", followingSymlinks: false) == .symbolicLink)

            let entries = try Directory.entries(dir + "/a")
            #expect(entries.map(\.name) == ["b", "file", "link"])
            #expect(entries.map(\.kind) == [.directory, .regular, .symbolicLink])
            #expect(Directory.names(dir + "/a/b") == ["c", "copy"])
            #expect(Directory.names(dir + "/nowhere") == [])
            #expect { _ = try Directory.entries(dir + "/nowhere") } throws: { ($0 as? SystemError)?.errno == ENOENT }

            try Files.rename(dir + "/a/file", to: dir + "/moved")
            #expect(!Files.exists(dir + "/a/file") && Files.exists(dir + "/moved"))
            #expect(Files.exists(dir + "/a/link"), "a dangling symlink still exists")
            try Files.removeTree(dir + "/a")
            #expect(!Files.exists(dir + "/a"))
            try Files.removeTree(dir + "/a")  // missing: fine
            try Files.remove(dir + "/moved")
            #expect(Directory.names(dir) == [])
        }
    }

    @Test func removeTreeDoesNotFollowSymlinks() throws {
        try withScratch { dir in
            try Files.makeDirectory(dir + "/outside")
            try Files.writeAtomically(dir + "/outside/keep", "x")
            try Files.makeDirectory(dir + "/tree")
            #expect(symlink(dir + "/outside", dir + "/tree/escape") == 0)
            try Files.removeTree(dir + "/tree")
            #expect(try Files.readText(dir + "/outside/keep") == "x")
        }
    }

    @Test func temporaryFileIsPrivateAndCloseOnExec() throws {
        let (fd, path) = try Files.makeTemporaryFile(prefix: "/tmp/linuxsystem-temp-")
        defer { fd.close(); try? Files.remove(path) }
        #expect(path.hasPrefix("/tmp/linuxsystem-temp-") && path.count == "/tmp/linuxsystem-temp-".count + 6)
        #expect(fcntl(fd.rawValue, F_GETFD) & FD_CLOEXEC != 0)
        try fd.writeAll(Array("0123456789".utf8), atOffset: 0)
        try fd.truncate(to: 4)
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw, atOffset: 1) }
        #expect(Array(buffer[..<n]) == Array("123".utf8))
        #expect(Files.type(of: path) == .regular)
    }
}

