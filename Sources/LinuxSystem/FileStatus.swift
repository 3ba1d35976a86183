import Glibc

/// What `lstat`/`fstat` report about one file: identity (device, inode), type, owner, permissions, size and
/// timestamps, with the times in nanoseconds since the epoch.
public struct FileStatus: Sendable, Equatable {
    public var type: FileType
    /// The permission bits with setuid, setgid and sticky (`st_mode & 07777`).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Bytes (for a symlink: the target's length).
    public var size: Int64
    /// 512-byte blocks allocated.
    public var blocks: Int64
    public var device: UInt64
    public var inode: UInt64
    /// The device number of a character or block device node.
    public var deviceNumber: UInt64
    public var links: UInt64
    public var modifiedNanoseconds: Int64
    /// Status change time: set by the kernel on every write, chmod, chown, link or rename, and never by
    /// `utimes`, so unlike `mtime` it cannot be turned back.
    public var changedNanoseconds: Int64

    init(_ st: stat) {
        type = FileType(mode: st.st_mode)
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = Int64(st.st_size)
        blocks = Int64(st.st_blocks)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        deviceNumber = UInt64(st.st_rdev)
        links = UInt64(st.st_nlink)
        modifiedNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        changedNanoseconds = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }
}

extension Files {
    /// `lstat` (or `stat` when `followingSymlinks`).
    public static func status(_ path: String, followingSymlinks: Bool = false) throws(SystemError) -> FileStatus {
        var st = stat()
        let name = followingSymlinks ? "stat" : "lstat"
        _ = try retryingOnEINTR(name, path) { followingSymlinks ? stat(path, &st) : lstat(path, &st) }
        return FileStatus(st)
    }

    /// Bytes an unprivileged writer may still use on the file system holding `path` (`statvfs`: f_bavail).
    public static func availableBytes(_ path: String) throws(SystemError) -> Int64 {
        var vfs = statvfs()
        _ = try retryingOnEINTR("statvfs", path) { statvfs(path, &vfs) }
        return Int64(clamping: UInt64(vfs.f_bavail).multipliedReportingOverflow(by: UInt64(vfs.f_frsize)).partialValue)
    }
}

extension FileDescriptor {
    /// `fstat`.
    public func status() throws(SystemError) -> FileStatus {
        var st = stat()
        _ = try retryingOnEINTR("fstat", description) { fstat(rawValue, &st) }
        return FileStatus(st)
    }

    /// `fsync`: the file's data and metadata are on stable storage (for a directory: its entries).
    public func synchronize() throws(SystemError) {
        _ = try retryingOnEINTR("fsync", description) { fsync(rawValue) }
    }

    /// `flock(LOCK_EX)`, waiting as long as another open file description holds the lock (EINTR retried).
    public func lockExclusive() throws(SystemError) {
        _ = try retryingOnEINTR("flock", description) { flock(rawValue, LOCK_EX) }
    }
}

extension Clock {
    /// Wall-clock time (`CLOCK_REALTIME`) in nanoseconds since the epoch: the clock file timestamps use.
    public static func realtimeNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
