import Glibc

/// Small file-system helpers for the state directory and the jail, shared with the Supervisor module. Failures are reported by return value;
/// callers decide whether they matter.

/// Writes `contents` to `path` atomically (temporary file + rename).
@discardableResult
package func writeFile(_ path: String, _ contents: String, mode: mode_t = 0o644) -> Bool {
    writeFile(path, Array(contents.utf8), mode: mode)
}

@discardableResult
package func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return false }
    let ok = bytes.withUnsafeBytes { raw in writeFully(fd, raw) }
    close(fd)
    guard ok, rename(temporary, path) == 0 else { unlink(temporary); return false }
    return true
}

/// Appends one line to `path` (O_APPEND: concurrent appenders do not interleave within a line).
package func appendLine(_ path: String, _ line: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// Reads a whole (small) file.
package func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while result.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        result += chunk[..<n]
    }
    return result
}

/// `mkdir -p`.
package func mkdirs(_ path: String, mode: mode_t = 0o755) -> Bool {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, mode) != 0 && errno != EEXIST { return false }
    }
    return true
}

/// Names in a directory (not `.`/`..`); empty when it cannot be read.
package func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// `rm -rf` that never follows symlinks and never leaves the tree.
package func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        for name in listDirectory(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Copies a regular file (sparse regions are not preserved; used only when a hard link is impossible).
package func copyFile(_ source: String, _ target: String) -> Bool {
    let input = open(source, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { return false }
    defer { close(input) }
    let output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard output >= 0 else { return false }
    defer { close(output) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return false }
        if n == 0 { return true }
        guard buffer.withUnsafeBytes({ writeFully(output, UnsafeRawBufferPointer(rebasing: $0[..<n])) }) else { return false }
    }
}

/// Writes all of `bytes` to a blocking descriptor, retrying on EINTR and short writes.
private func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
        if n < 0 { if errno == EINTR { continue }; return false }
        offset += n
    }
    return true
}
