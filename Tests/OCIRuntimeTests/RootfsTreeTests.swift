import Foundation
import LinuxSystem
@testable import OCIRuntime
import Testing
import TestSupport

/// The tree digest: SHA-256 itself, then which changes to a rootfs directory move the digest.
struct RootfsTreeTests {
    private func sha(_ bytes: [UInt8]) -> String {
        var hasher = RootfsSHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    @Test func sha256MatchesTheNISTVectors() {
        #expect(sha([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(sha(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8))
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        // One million 'a', fed in uneven pieces: streaming across block boundaries.
        var hasher = RootfsSHA256()
        var fed = 0
        for size in [1, 63, 64, 65, 127, 1000].cycled(totalCount: 1_000_000) {
            hasher.update([UInt8](repeating: 0x61, count: size))
            fed += size
        }
        #expect(fed == 1_000_000)
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Every padding length around the 55/56/64-byte edges agrees with a one-shot hash of the same input.
        for n in 50...130 {
            var split = RootfsSHA256()
            split.update([UInt8](repeating: 7, count: n / 2))
            split.update([UInt8](repeating: 7, count: n - n / 2))
            #expect(split.hexDigest() == sha([UInt8](repeating: 7, count: n)))
        }
        #expect(sha([UInt8](repeating: 0x61, count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(sha([UInt8](repeating: 0x61, count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(sha([UInt8](repeating: 0x61, count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    /// A tree scanned once it has settled (see RootfsImageCache.settleWindow), so that a change made right
    /// after moves a timestamp.
    private func digest(_ root: String) throws -> String {
        try RootfsImageCache(directory: "/nonexistent").settledScan(root).digest
    }

    @Test func unchangedTreeKeepsItsDigestAndEveryChangeMovesIt() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/rootfs-tree-")
        defer { temp.remove() }
        let root = temp.file("rootfs")
        try RootfsTestTree.make(root)
        var last = try digest(root)
        #expect(last.count == 64)
        #expect(try digest(root) == last, "an unchanged tree must keep its digest")

        let changes: [(String, () throws -> Void)] = [
            ("same-size rewrite", { try Files.writeAtomically(root + "/etc/hostname", "other\n") }),
            ("in-place write", { try Files.writeExisting(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n") }),
            ("chmod", { try Files.changeMode(root + "/bin/tool", 0o700) }),
            ("chown", { try Files.changeOwner(root + "/bin/tool", uid: 7, gid: 7) }),
            ("new file", { try Files.writeAtomically(root + "/etc/new", "") }),
            ("new empty directory", { try Files.makeDirectory(root + "/srv") }),
            ("symlink retarget (same length)", {
                try Files.remove(root + "/bin/sh")
                try FileManager.default.createSymbolicLink(atPath: root + "/bin/sh", withDestinationPath: "/bin/tooL")
            }),
            ("removed file", { try Files.remove(root + "/etc/new") }),
            ("hard link added", { try Files.hardLink(root + "/bin/tool", to: root + "/bin/tool2") }),
            ("rename", { try Files.rename(root + "/bin/tool2", to: root + "/bin/tool3") }),
        ]
        for (what, change) in changes {
            try change()
            let next = try digest(root)
            #expect(next != last, "\(what) must change the digest")
            last = next
        }
        #expect(try digest(root) == last)
    }

    @Test func identicalCopiesAreDifferentTreesAndTheSaltCounts() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/rootfs-tree-")
        defer { temp.remove() }
        try RootfsTestTree.make(temp.file("a"))
        try RootfsTestTree.make(temp.file("b"))
        // Same names and bytes, other inodes and ctimes: a copy is not assumed identical (nothing is read).
        #expect(try digest(temp.file("a")) != digest(temp.file("b")))
        #expect(try RootfsTree.scan(temp.file("a"), salt: "x").digest != RootfsTree.scan(temp.file("a"), salt: "y").digest)
    }

    @Test func totalsCountEntriesAndHardLinkedDataOnce() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/rootfs-tree-")
        defer { temp.remove() }
        let root = temp.file("r")
        try Files.makeDirectories(root + "/d")
        try Files.writeAtomically(root + "/d/big", [UInt8](repeating: 1, count: 5000)) // 2 blocks
        try Files.hardLink(root + "/d/big", to: root + "/big-again")                      // no more data
        try Files.writeAtomically(root + "/small", "x")                                   // 1 block
        try FileManager.default.createSymbolicLink(atPath: root + "/long", withDestinationPath: String(repeating: "t", count: 60))
        try FileManager.default.createSymbolicLink(atPath: root + "/short", withDestinationPath: "t")
        let tree = try RootfsTree.scan(root, salt: "")
        #expect(tree.entries == 7) // . d d/big big-again small long short
        #expect(tree.dataBytes == 3 * 4096)
        #expect(tree.longSymlinks == 1)
        #expect(tree.directoryBytes == 2 * 4096)
        #expect(tree.rootOwner == (0, 0))
    }

    @Test func missingOrNonDirectoryRootfsIsOneLine() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/rootfs-tree-")
        defer { temp.remove() }
        expectOCIError(.invalidRootfs, "cannot stat rootfs \(temp.file("none")): No such file or directory") {
            _ = try RootfsTree.scan(temp.file("none"), salt: "")
        }
        try Files.makeDirectories(temp.file("latin1"))
        try Files.writeAtomically(temp.file("latin1") + "/caf\u{E9}", "") // valid UTF-8: fine
        #expect(try RootfsTree.scan(temp.file("latin1"), salt: "").entries == 2)
        let badName: [CChar] = Array((temp.file("latin1") + "/caf").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9), 0]
        let fd = badName.withUnsafeBufferPointer { creat($0.baseAddress!, 0o644) }
        #expect(fd >= 0)
        close(fd)
        expectOCIError(.invalidRootfs, "\(temp.file("latin1")) holds a file name that is not UTF-8 (not supported): caf\u{FFFD}") {
            _ = try RootfsTree.scan(temp.file("latin1"), salt: "")
        }
        try Files.writeAtomically(temp.file("file"), "x")
        expectOCIError(.invalidRootfs, "rootfs \(temp.file("file")) is not a directory") {
            _ = try RootfsTree.scan(temp.file("file"), salt: "")
        }
    }
}

/// A small rootfs with what an image must keep: owners, setuid, a symlink, a hard link, a fifo, a device node,
/// an extended attribute.
enum RootfsTestTree {
    static func make(_ root: String) throws {
        for dir in ["bin", "etc", "dev", "var/empty"] { try Files.makeDirectories(root + "/" + dir) }
        try Files.writeAtomically(root + "/bin/tool", "#!/bin/sh\necho tool\n", mode: 0o755)
        // chown clears setuid: owner first.
        try Files.changeOwner(root + "/bin/tool", uid: 1000, gid: 2000)
        try Files.changeMode(root + "/bin/tool", 0o4750)
        try FileManager.default.createSymbolicLink(atPath: root + "/bin/sh", withDestinationPath: "/bin/tool")
        try Files.writeAtomically(root + "/etc/hostname", "box\n")
        try Files.writeAtomically(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        try Files.hardLink(root + "/etc/passwd", to: root + "/etc/passwd-")
        try Files.changeMode(root + "/var/empty", 0o1777)
        #expect(mkfifo(root + "/dev/fifo", 0o600) == 0)
        #expect(mknod(root + "/dev/null", S_IFCHR | 0o666, 0x103) == 0) // makedev(1, 3)
        try Files.changeMode(root + "/dev/null", 0o666) // past the umask
        // Glibc's module map leaves out sys/xattr.h; python3 is a build dependency already (mkcpio.py).
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import os, sys; os.setxattr(sys.argv[1], 'user.origin', b'test')", root + "/etc/hostname"]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
    }
}

private extension Array where Element == Int {
    /// The sizes repeated in order until they add up to `totalCount` (the last one cut short).
    func cycled(totalCount: Int) -> [Int] {
        var out: [Int] = []
        var sum = 0
        var i = 0
        while sum < totalCount {
            let size = Swift.min(self[i % count], totalCount - sum)
            out.append(size)
            sum += size
            i += 1
        }
        return out
    }
}
