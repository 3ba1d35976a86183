import Glibc

/// Whole-file operations on paths: the one place that opens, reads, writes, renames and removes files.
/// Reads and writes go through ``FileDescriptor``, so EINTR and short writes are handled once.
public enum Files {
    /// The whole file, up to `limit` bytes (procfs and sysfs files report size 0, so this reads to EOF).
    public static func readAll(_ path: String, limit: Int = 4 << 20) throws(SystemError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, flags: O_RDONLY)
        defer { fd.close() }
        return try fd.readToEnd(limit: limit)
    }

    /// The whole file as UTF-8 text (invalid bytes repaired), up to `limit` bytes.
    public static func readText(_ path: String, limit: Int = 4 << 20) throws(SystemError) -> String {
        String(decoding: try readAll(path, limit: limit), as: UTF8.self)
    }

    /// A one-value file (`/sys/class/net/eth0/address`, `/proc/sys/fs/nr_open`) without its trailing newline
    /// and spaces; nil when it cannot be read.
    public static func readValue(_ path: String, limit: Int = 4096) -> String? {
        guard var bytes = try? readAll(path, limit: limit) else { return nil }
        while let last = bytes.last, last == 0x0a || last == 0x0d || last == 0x20 || last == 0x09 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `bytes` to `path`, replacing it in one step: a temporary file beside it, then `rename`. Readers see
    /// the old or the new content, never a mix; a symlink at `path` is replaced, not followed. The temporary's name
    /// is this writer's own (`<path><suffix>.<pid>.<ns>`, created exclusively), so concurrent writers of one path,
    /// in one process or several, never share it: the last rename wins, whole.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644,
                                       temporarySuffix: String = ".tmp") throws(SystemError) {
        let (fd, temporary) = try createExclusively(prefix: path + temporarySuffix, mode: mode)
        do {
            defer { fd.close() }
            try fd.writeAll(bytes)
            try rename(temporary, to: path)
        } catch {
            _ = unlink(temporary)
            throw error
        }
    }

    /// A new file `<prefix>.<pid>.<monotonic ns>`, created with `O_EXCL` (another name on `EEXIST`).
    private static func createExclusively(prefix: String, mode: mode_t) throws(SystemError) -> (FileDescriptor, String) {
        while true {
            let candidate = prefix + ".\(getpid()).\(Clock.now().nanoseconds)"
            do {
                return (try FileDescriptor.open(candidate, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode), candidate)
            } catch where error.errno == EEXIST {
                continue
            }
        }
    }

    /// ``writeAtomically(_:_:mode:temporarySuffix:)`` for text.
    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644,
                                       temporarySuffix: String = ".tmp") throws(SystemError) {
        try writeAtomically(path, Array(text.utf8), mode: mode, temporarySuffix: temporarySuffix)
    }

    /// Writes `text` into an existing file without creating or truncating it (procfs and sysfs knobs such as
    /// `/proc/self/oom_score_adj`).
    public static func writeExisting(_ path: String, _ text: String) throws(SystemError) {
        let fd = try FileDescriptor.open(path, flags: O_WRONLY)
        defer { fd.close() }
        try fd.writeAll(Array(text.utf8))
    }

    /// Appends `line` and a newline in one `write` (O_APPEND: concurrent appenders never interleave within it).
    public static func appendLine(_ path: String, _ line: String, mode: mode_t = 0o644) throws(SystemError) {
        let fd = try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_APPEND, mode: mode)
        defer { fd.close() }
        try fd.writeAll(Array((line + "\n").utf8))
    }

    /// Whether anything (a dangling symlink included) exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The size in bytes of the regular file at `path` (symlinks followed); nil when there is none.
    public static func size(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return UInt64(st.st_size)
    }

    /// The type of the file at `path` (a symlink itself when `followingSymlinks` is false); nil when there is none.
    public static func type(of path: String, followingSymlinks: Bool = true) -> FileType? {
        var st = stat()
        guard (followingSymlinks ? stat(path, &st) : lstat(path, &st)) == 0 else { return nil }
        return FileType(mode: st.st_mode)
    }

    /// `symlink(target, path)`: a symbolic link at `path` pointing to `target`.
    public static func makeSymlink(_ path: String, to target: String) throws(SystemError) {
        guard symlink(target, path) == 0 else { throw SystemError.last("symlink", path) }
    }

    /// `access(path, X_OK)` for a non-directory: nil when it may be executed, else the errno (ENOENT, EACCES, …).
    public static func executableError(_ path: String) -> Int32? {
        if isDirectory(path) { return EACCES }
        return access(path, X_OK) == 0 ? nil : Glibc.errno
    }

    /// Whether `path` is a directory (symlinks followed).
    public static func isDirectory(_ path: String) -> Bool { type(of: path) == .directory }

    /// `mkdir`; an existing directory is not an error.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        guard mkdir(path, mode) == 0 || (Glibc.errno == EEXIST && isDirectory(path)) else {
            throw SystemError.last("mkdir", path)
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            try makeDirectory(current, mode: mode)
        }
    }

    /// `rm -rf` that never follows symlinks and never leaves the tree. A missing path is not an error.
    public static func removeTree(_ path: String) throws(SystemError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if Glibc.errno == ENOENT { return }
            throw SystemError.last("lstat", path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for entry in try Directory.entries(path) { try removeTree(path + "/" + entry.name) }
            guard rmdir(path) == 0 else { throw SystemError.last("rmdir", path) }
        } else {
            try remove(path)
        }
    }

    /// `unlink`; a missing file is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 || Glibc.errno == ENOENT else { throw SystemError.last("unlink", path) }
    }

    /// `rename(from, to)`.
    public static func rename(_ from: String, to: String) throws(SystemError) {
        guard Glibc.rename(from, to) == 0 else { throw SystemError.last("rename", "\(from) -> \(to)") }
    }

    /// `link(from, to)`: a hard link (EXDEV across file systems: then ``copy(_:to:mode:)``).
    public static func hardLink(_ from: String, to: String) throws(SystemError) {
        guard link(from, to) == 0 else { throw SystemError.last("link", "\(from) -> \(to)") }
    }

    /// Copies a regular file's bytes (sparse regions are not preserved), creating or truncating `target`.
    public static func copy(_ source: String, to target: String, mode: mode_t = 0o600) throws(SystemError) {
        let input = try FileDescriptor.open(source, flags: O_RDONLY)
        defer { input.close() }
        let output = try FileDescriptor.open(target, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        defer { output.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while case .processed(let n) = try input.readSome(into: buffer), n > 0 {
            try output.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// The target of a symbolic link; nil when `path` is not one.
    public static func readLink(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let n = buffer.withUnsafeMutableBytes { raw in
            readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
    }

    /// `chown` (not following a symlink at `path`).
    public static func changeOwner(_ path: String, uid: UInt32, gid: UInt32) throws(SystemError) {
        guard lchown(path, uid, gid) == 0 else { throw SystemError.last("chown", path) }
    }

    /// `chmod`.
    public static func changeMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        guard chmod(path, mode) == 0 else { throw SystemError.last("chmod", path) }
    }

    /// `mkstemp`: creates a new file `<prefix>XXXXXX` (mode 0600, close-on-exec) and returns it open, with its path.
    public static func makeTemporaryFile(prefix: String) throws(SystemError) -> (fd: FileDescriptor, path: String) {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let raw = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard raw >= 0 else { throw SystemError.last("mkstemp", prefix) }
        let fd = FileDescriptor(rawValue: raw)
        let path = decodedPath(template)
        do { try fd.setCloexec() } catch { fd.close(); _ = unlink(path); throw error }
        return (fd, path)
    }

    /// `mkdtemp`: creates a new directory `<prefix>XXXXXX` (mode 0700) and returns its path.
    public static func makeTemporaryDirectory(prefix: String) throws(SystemError) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw SystemError.last("mkdtemp", prefix)
        }
        return decodedPath(template)
    }

    /// A NUL-terminated template that mkstemp/mkdtemp filled in, as a String.
    private static func decodedPath(_ template: [CChar]) -> String {
        String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
