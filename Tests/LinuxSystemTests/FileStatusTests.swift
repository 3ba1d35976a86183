import Glibc
import LinuxSystem
import Testing

/// lstat/fstat, statvfs, fsync, blocking flock and the wall clock.
struct FileStatusTests {
    private func withScratch(_ body: (String) throws -> Void) throws {
        let directory = try Files.makeTemporaryDirectory(prefix: "/var/tmp/linuxsystem-status-")
        defer { try? Files.removeTree(directory) }
        try body(directory)
    }

    @Test func statusReportsTypeOwnerModeSizeAndTimes() throws {
        try withScratch { dir in
            let before = Clock.realtimeNanoseconds()
            let path = dir + "/f"
            try Files.writeAtomically(path, "12345", mode: 0o640)
            try Files.changeMode(path, 0o4640)
            let status = try Files.status(path)
            #expect(status.type == .regular && status.permissions == 0o4640 && status.size == 5 && status.links == 1)
            #expect(status.uid == getuid() && status.gid == getgid())
            // Timestamps come from the kernel's coarse clock: within a tick of the wall clock around the write.
            #expect(status.changedNanoseconds >= before - 20_000_000)
            #expect(status.changedNanoseconds <= Clock.realtimeNanoseconds())

            let fd = try FileDescriptor.open(path, flags: O_RDONLY)
            defer { fd.close() }
            #expect(try fd.status() == status)
            try fd.synchronize()

            try Files.hardLink(path, to: dir + "/g")
            #expect(try Files.status(dir + "/g").inode == status.inode)
            #expect(try Files.status(path).links == 2)
            #expect(try Files.status(path).changedNanoseconds >= status.changedNanoseconds)
        }
    }

    @Test func symlinksAreNotFollowedUnlessAsked() throws {
        try withScratch { dir in
            try Files.writeAtomically(dir + "/target", "x")
            #expect(symlink("target", dir + "/link") == 0)
            let link = try Files.status(dir + "/link")
            #expect(link.type == .symbolicLink && link.size == 6)
            #expect(try Files.status(dir + "/link", followingSymlinks: true).type == .regular)
            #expect(throws: SystemError("lstat", errno: ENOENT, dir + "/none")) { try Files.status(dir + "/none") }
        }
    }

    @Test func deviceNodesReportTheirNumber() throws {
        let null = try Files.status("/dev/null")
        #expect(null.type == .characterDevice && null.deviceNumber == 0x103)
    }

    @Test func blockingLockWaitsForTheHolder() throws {
        try withScratch { dir in
            let path = dir + "/lock"
            let first = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT)
            let second = try FileDescriptor.open(path, flags: O_RDWR)
            defer { second.close() }
            try first.lockExclusive()
            #expect(try second.tryLockExclusive() == false)
            first.close()
            try second.lockExclusive() // released with the holder's descriptor: returns at once
            #expect(try second.tryLockExclusive()) // the holder may lock again
        }
    }

    @Test func availableBytesIsPositiveAndMissingPathsThrow() throws {
        #expect(try Files.availableBytes("/var/tmp") > 0)
        #expect(throws: SystemError("statvfs", errno: ENOENT, "/nonexistent-dir")) { try Files.availableBytes("/nonexistent-dir") }
    }
}
