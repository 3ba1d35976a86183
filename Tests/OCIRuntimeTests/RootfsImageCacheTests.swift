import Foundation
import LinuxSystem
@testable import OCIRuntime
import Synchronization
import Testing
import TestSupport

/// The rootfs image cache against the real mkfs.ext4 and debugfs (e2fsprogs), and fake ones on a PATH.
struct RootfsImageCacheTests {
    /// A temporary directory with a rootfs (`RootfsTestTree`), a cache directory and room for fake tools.
    final class Setup {
        let temp: TemporaryDirectory
        var root: String { temp.file("rootfs") }
        var cache: String { temp.file("cache") }
        init() throws {
            temp = try TemporaryDirectory(prefix: "/var/tmp/rootfs-cache-")
            try RootfsTestTree.make(root)
        }
        deinit { temp.remove() }

        /// A directory holding an executable `mkfs.ext4` with `script` as its body.
        func fakeMkfs(_ script: String) throws -> String {
            let bin = temp.file("fake-bin")
            try Files.makeDirectories(bin)
            try Files.writeAtomically(bin + "/mkfs.ext4", "#!/bin/sh\n" + script + "\n", mode: 0o755)
            return bin
        }

        func cacheListing() -> [String] { Directory.names(cache) }
    }

    /// `debugfs -R REQUEST image` output (stdout and stderr).
    static func debugfs(_ request: String, _ image: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/debugfs")
        process.arguments = ["-R", request, image]
        let pipe = Foundation.Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func missThenHitWithoutRunningMkfs() throws {
        let setup = try Setup()
        let first = try RootfsImageCache(directory: setup.cache).image(for: setup.root)
        #expect(first.built)
        #expect(first.path == setup.cache + "/" + first.digest + ".ext4")
        #expect(setup.cacheListing() == [first.digest + ".ext4"], "no lock or temporary file left")
        let status = try Files.status(first.path)
        #expect(status.type == .regular && status.permissions == 0o644)
        #expect(try Files.status(setup.cache).permissions == 0o700)

        // A second cache whose only mkfs.ext4 fails: a hit must not run it, and must not touch the image.
        let failing = try setup.fakeMkfs("echo ran >> \(setup.temp.file("mkfs-ran")); exit 1")
        let second = try RootfsImageCache(directory: setup.cache, searchPath: failing).image(for: setup.root)
        #expect(!second.built)
        #expect(second.path == first.path && second.digest == first.digest)
        let after = try Files.status(second.path)
        #expect(after.inode == status.inode && after.changedNanoseconds == status.changedNanoseconds)
        #expect(!Files.exists(setup.temp.file("mkfs-ran")))
        #expect(second.buildSeconds < first.buildSeconds)

        // A changed tree is a miss (and the fake mkfs's failure says so).
        try Files.changeMode(setup.root + "/etc/hostname", 0o600)
        expectOCIError(.imageUnavailable, "mkfs.ext4 could not build the image of \(setup.root): exit status 1") {
            _ = try RootfsImageCache(directory: setup.cache, searchPath: failing).image(for: setup.root)
        }
        #expect(Files.exists(setup.temp.file("mkfs-ran")))
        #expect(setup.cacheListing() == [first.digest + ".ext4"])
    }

    @Test func imageHoldsTheTreeWithOwnersModesLinksNodesAndXattrs() throws {
        let setup = try Setup()
        try Files.changeOwner(setup.root, uid: 33, gid: 44)
        let image = try RootfsImageCache(directory: setup.cache).image(for: setup.root)
        let top = try Self.debugfs("ls -l /", image.path)
        // debugfs ls -l: inode, mode (octal, with type), (dirent type), uid, gid, size, date, name.
        func line(_ listing: String, _ name: String) -> [Substring]? {
            listing.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.last.map(String.init) == name }
        }
        #expect(line(top, ".")?[1] == "40755" && line(top, ".")?[3] == "33" && line(top, ".")?[4] == "44")
        #expect(line(top, "bin")?[1] == "40755")
        let bin = try Self.debugfs("ls -l /bin", image.path)
        let tool = try #require(line(bin, "tool"))
        #expect(tool[1] == "104750" && tool[3] == "1000" && tool[4] == "2000" && tool[5] == "20")
        #expect(line(bin, "sh")?[1] == "120777")
        #expect(try Self.debugfs("cat /bin/tool", image.path).contains("#!/bin/sh\necho tool\n"))
        #expect(try Self.debugfs("stat /bin/sh", image.path).contains("Fast link dest: \"/bin/tool\""))
        let etc = try Self.debugfs("ls -l /etc", image.path)
        #expect(line(etc, "passwd")?[0] == line(etc, "passwd-")?[0], "a hard link stays one inode")
        let dev = try Self.debugfs("ls -l /dev", image.path)
        #expect(line(dev, "fifo")?[1] == "10600")
        #expect(line(dev, "null")?[1] == "20666")
        #expect(try Self.debugfs("stat /dev/null", image.path).contains("Device major/minor number: 01:03"))
        #expect(line(try Self.debugfs("ls -l /var", image.path), "empty")?[1] == "41777")
        #expect(try Self.debugfs("ea_list /etc/hostname", image.path).contains("user.origin (4) = \"test\""))
        #expect(try Self.debugfs("stats", image.path).contains("Filesystem volume name:   fc-root"))
        #expect(!(try Self.debugfs("stats", image.path).contains("has_journal")))
    }

    @Test func failedBuildsLeaveNothing() throws {
        let setup = try Setup()
        let digest = try RootfsImageCache(directory: setup.cache).settledScan(setup.root).digest
        // A killed builder's temporary file: the next builder of that digest removes it.
        try Files.makeDirectories(setup.cache)
        try Files.writeAtomically(setup.cache + "/.\(digest).tmp-ab12cd", "half an image")

        // mkfs that writes into the target, then fails with a message: the message is the error.
        let noisy = try setup.fakeMkfs(#"""
            for a; do t="$a"; done; echo junk > "$t"
            echo 'do_write_internal: Permission denied while opening "shadow" to copy' >&2
            echo "mkfs.ext4: Permission denied while populating file system  " >&2; exit 3
            """#)
        expectOCIError(.imageUnavailable, "mkfs.ext4 could not build the image of \(setup.root): "
                       + #"do_write_internal: Permission denied while opening "shadow" to copy; "#
                       + "mkfs.ext4: Permission denied while populating file system") {
            _ = try RootfsImageCache(directory: setup.cache, searchPath: noisy).image(for: setup.root)
        }
        #expect(setup.cacheListing() == [])

        // mkfs killed by a signal.
        let killed = try setup.fakeMkfs("kill -9 $$")
        expectOCIError(.imageUnavailable, "mkfs.ext4 could not build the image of \(setup.root): killed by signal 9") {
            _ = try RootfsImageCache(directory: setup.cache, searchPath: killed).image(for: setup.root)
        }
        #expect(setup.cacheListing() == [])

        // No mkfs at all.
        let empty = setup.temp.file("empty-bin")
        try Files.makeDirectories(empty)
        expectOCIError(.imageUnavailable, "mkfs.ext4 not found in \(empty) (install e2fsprogs)") {
            _ = try RootfsImageCache(directory: setup.cache, searchPath: empty).image(for: setup.root)
        }
        #expect(setup.cacheListing() == [])

        // A file mkfs cannot read (a fifo mkfs would copy is fine; a missing rootfs is refused before mkfs).
        expectOCIError(.invalidRootfs, "cannot stat rootfs \(setup.temp.file("gone")): No such file or directory") {
            _ = try RootfsImageCache(directory: setup.cache).image(for: setup.temp.file("gone"))
        }
        #expect(setup.cacheListing() == [])
    }

    @Test func fullCacheFileSystemIsRefusedBeforeMkfs() throws {
        let setup = try Setup()
        try Files.writeAtomically(setup.root + "/blob", [UInt8](repeating: 1, count: 4 << 20))
        try Files.makeDirectories(setup.cache)
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", setup.cache])
        defer { try? Self.run("/bin/umount", [setup.cache]) }
        do {
            _ = try RootfsImageCache(directory: setup.cache).image(for: setup.root)
            Issue.record("a 2 MiB cache file system took a 4 MiB tree")
        } catch {
            #expect(error.code == .imageUnavailable)
            #expect(error.message.hasPrefix("not enough space for the image of \(setup.root) in \(setup.cache): needs about "))
            #expect(error.message.hasSuffix(" MiB, 2 MiB free"))
        }
        #expect(setup.cacheListing() == [])
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("\(tool) \(arguments) failed") }
    }

    @Test func concurrentCallersBuildOnce() throws {
        let setup = try Setup()
        // The real mkfs, slowed down so that every caller arrives while the first one builds, and counted.
        let count = setup.temp.file("mkfs-runs")
        let slow = try setup.fakeMkfs("echo run >> \(count); sleep 0.3; exec /usr/sbin/mkfs.ext4 \"$@\"")
        let callers = 4
        let results = Mutex<[Result<RootfsImage, OCIError>]>([])
        let (cache, root) = (setup.cache, setup.root)
        DispatchQueue.concurrentPerform(iterations: callers) { _ in
            let result = Result { () throws(OCIError) in
                try RootfsImageCache(directory: cache, searchPath: slow).image(for: root)
            }
            results.withLock { $0.append(result) }
        }
        let images = try results.withLock { $0 }.map { try $0.get() }
        #expect(images.count == callers)
        #expect(images.filter(\.built).count == 1)
        #expect(Set(images.map(\.path)).count == 1)
        #expect(FileContents.text(count) == "run\n")
        #expect(setup.cacheListing() == [images[0].digest + ".ext4"])
    }

    @Test func sizeCoversContentInodesAndSlack() throws {
        let setup = try Setup()
        try Files.writeAtomically(setup.root + "/blob", [UInt8](repeating: 0xab, count: 3 << 20))
        let tree = try RootfsTree.scan(setup.root, salt: "")
        let (bytes, inodes) = RootfsImageBuilder.size(for: tree)
        #expect(inodes == tree.entries + tree.entries / 4 + 64)
        #expect(bytes % (1 << 20) == 0)
        #expect(bytes >= tree.dataBytes + 16 << 20 && bytes <= tree.dataBytes + 24 << 20)
        let image = try RootfsImageCache(directory: setup.cache).image(for: setup.root)
        #expect(try Files.status(image.path).size == bytes)
        // Sparse: allocated blocks are about the content, not the apparent size.
        #expect(try Files.status(image.path).blocks * 512 < Int64(3 << 20) + (2 << 20))
        #expect(try Self.debugfs("stat /blob", image.path).contains("Size: \(3 << 20)"))
    }
}
