import Glibc

/// What unpacking an image layer needs beyond ``Files``: device nodes, timestamps that do not follow symlinks,
/// file creation that refuses to follow one, and replacing the process image (the `fc-supervisor image` hand-over).
extension Files {
    /// `mknod`: a character or block device, or a FIFO (`kind` is `S_IFCHR`, `S_IFBLK` or `S_IFIFO`).
    public static func makeNode(_ path: String, kind: mode_t, permissions: mode_t, major: UInt32, minor: UInt32) throws(SystemError) {
        // glibc's makedev (a macro Swift cannot import): the kernel's 32-bit major, 32-bit minor encoding.
        let (ma, mi) = (UInt64(major), UInt64(minor))
        let device = dev_t(((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff))
        guard mknod(path, kind | (permissions & 0o7777), device) == 0 else { throw SystemError.last("mknod", path) }
    }

    /// `utimensat(AT_SYMLINK_NOFOLLOW)`: access and modification times of `path` itself (a symlink's own times).
    public static func setTimes(_ path: String, accessNanoseconds: Int64, modifiedNanoseconds: Int64) throws(SystemError) {
        func spec(_ ns: Int64) -> timespec {
            timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        }
        let times = [spec(accessNanoseconds), spec(modifiedNanoseconds)]
        guard utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemError.last("utimensat", path) }
    }

    /// A new regular file, opened for writing: `O_CREAT|O_EXCL|O_NOFOLLOW`, so an existing file or a symlink
    /// planted at `path` is an error (EEXIST), never something written through.
    public static func createExclusive(_ path: String, permissions: mode_t) throws(SystemError) -> FileDescriptor {
        try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: permissions)
    }

    /// `rmdir` of an empty directory.
    public static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 else { throw SystemError.last("rmdir", path) }
    }

    /// `realpath` of the running executable (`/proc/self/exe`); nil when it cannot be read.
    public static func currentExecutable() -> String? { readLink("/proc/self/exe") }
}

public enum ProcessImage {
    /// `execv(path, arguments)` with this process's environment: returns only on failure.
    public static func replace(with path: String, arguments: [String]) -> SystemError {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv(path, argv)
        let error = SystemError.last("exec", path)
        for pointer in argv { free(pointer) }
        return error
    }
}

extension FileDescriptor {
    /// `flock(LOCK_SH)`, waiting while another open file description holds it exclusively (EINTR retried).
    public func lockShared() throws(SystemError) {
        _ = try retryingOnEINTR("flock", description) { flock(rawValue, LOCK_SH) }
    }
}
